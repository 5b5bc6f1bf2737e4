"""Issue 22, live thoughts: how soon a streamed thought reaches the cell's display.

A ``--thoughts`` cell on Pro streams; the simulator spreads its events over a second, so
each chunk arrives while the cell waits. The figure is the time from the first chunk's
arrival (when the SDK hands it to nb_banana on the engine's loop) to the return of the
display update that first shows its thought text (in the cell's thread). The shell is
given a stand-in ``kernel`` for the run, as the magic shows live displays only in one.
"""

from __future__ import annotations

import time
from typing import Any

from IPython.core import display_functions

from nb_banana.gemini import stream

from .figure import Figure
from .rig import Rig
from .stats import Stat

PROMPT = "a glass greenhouse in the rain"


def first_thought_figure(rig: Rig, repeats: int) -> Figure:
    lags = [_one_cell(rig) for _ in range(repeats + 1)][1:]  # the first is a warm-up
    value = Stat.of(lags)
    return Figure(
        "first_thought_shown", 22, "first thought shown", "ms", value,
        f"%%banana -m pro --thoughts --fresh (simulator spreading its events over "
        f"{_SPREAD:g} s): first chunk handed over by the SDK → the display update that shows "
        "its thought text has returned",
        score=value.median, score_unit="ms", limit=50.0, target="≤ 50 ms",
    )  # fmt: skip


_SPREAD = 1.0


def _one_cell(rig: Rig) -> float:
    arrived: list[float] = []
    shown: list[float] = []
    add, update = stream.Assembly.add, display_functions.update_display

    def timed_add(self: stream.Assembly, chunk: Any) -> stream.Glimpse:
        arrived.append(time.perf_counter())
        return add(self, chunk)

    def timed_update(obj: Any, **kwargs: Any) -> None:
        update(obj, **kwargs)
        html = obj.get("text/html", "") if isinstance(obj, dict) else ""
        if not shown and "nb-banana-live-thoughts" in html and "<p" in html:
            shown.append(time.perf_counter())

    rig.sim.stream_seconds = _SPREAD
    stream.Assembly.add = timed_add  # type: ignore[method-assign]
    display_functions.update_display = timed_update
    rig.shell.kernel = object()  # type: ignore[attr-defined]
    try:
        rig.cell("-m pro --thoughts --fresh", PROMPT)
    finally:
        del rig.shell.kernel
        stream.Assembly.add = add  # type: ignore[method-assign]
        display_functions.update_display = update
        rig.sim.stream_seconds = 0.0
    if not (arrived and shown):
        raise RuntimeError("the cell showed no live thought")
    return (shown[0] - arrived[0]) * 1000
