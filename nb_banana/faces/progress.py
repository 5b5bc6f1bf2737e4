"""The one progress display of a ``--each`` run, updated in place.

In a notebook (a kernel, where widgets have a comm) it is an ipywidgets bar with the line
beside it; elsewhere (a terminal IPython, plain Python) the same line, rewritten in place
with a carriage return. When the run ends the bar becomes its last line as plain text, so
a saved notebook holds no widget that no longer exists. ``each`` knows nothing of either:
it calls the function ``shown`` yields.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from ..gemini.usage import format_usd
from ..turns.each import Progress


def line(progress: Progress) -> str:
    """``🍌 37/100 done · 2 failed · 12 s · ETA 20 s · ~$1.48`` (and a rate-limit pause)."""
    p = progress
    parts = [f"{p.done}/{p.total} done"]
    if p.failed:
        parts.append(f"{p.failed} failed")
    parts.append(_clock(p.elapsed))
    if p.eta is not None and p.done + p.failed < p.total:
        parts.append(f"ETA {_clock(p.eta)}")
    parts.append(f"~{format_usd(p.cost)}")
    if p.paused >= 0.5:
        parts.append(f"paused {p.paused:.0f} s for the rate limit")
    return "🍌 " + " · ".join(parts)


def _clock(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


@contextmanager
def shown(shell: Any, total: int) -> Iterator[Callable[[Progress], None]]:
    """A progress display for a run of ``total`` elements, for as long as the block runs."""
    display: _Bar | _Line = (
        _Bar(total) if getattr(shell, "kernel", None) is not None else _Line(sys.stdout)
    )
    try:
        yield display.update
    finally:
        display.close()


class _Bar:
    """An ``IntProgress`` and a ``Label`` beside it, shown at the first update (a run refused
    before its first call shows nothing) and updated in place."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.widgets: tuple[Any, Any, Any] | None = None  # box, bar, label
        self.handle: Any = None
        self.last = ""

    def update(self, progress: Progress) -> None:
        if self.widgets is None:
            self._show()
        _, bar, label = self.widgets  # type: ignore[misc]
        bar.value = progress.done + progress.failed
        bar.bar_style = "warning" if progress.failed else ""
        label.value = self.last = line(progress)

    def _show(self) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        bar = widgets.IntProgress(min=0, max=self.total, value=0)
        label = widgets.Label("")
        box = widgets.HBox([bar, label])
        self.widgets = (box, bar, label)
        self.handle = display(box, display_id=True)

    def close(self) -> None:
        if self.widgets is None:
            return
        if self.handle is not None:
            self.handle.update({"text/plain": self.last}, raw=True)
        for widget in self.widgets:
            widget.close()


class _Line:
    """The line on a terminal, rewritten in place; a newline when the run ends."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.width = 0

    def update(self, progress: Progress) -> None:
        text = line(progress)
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        if self.width:
            self.stream.write("\n")
            self.stream.flush()
