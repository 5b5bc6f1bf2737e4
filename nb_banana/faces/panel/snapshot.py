"""A still of the panel's gallery, for a notebook read without a kernel.

A saved notebook keeps no widget state, so exported HTML, ``jupyter nbconvert``, GitHub and
nbviewer show a panel as nothing. Under the panel, ``Snapshot`` keeps one more output: the
widget view of an invisible box (what a live front end draws: nothing) and, beside it,
``text/html`` with a thumbnail of each result in the gallery and its caption (what every
other reader shows). It is replaced in place each time the gallery changes, so the saved
notebook holds the gallery as it last stood; replacing it re-draws only the invisible box,
never the panel.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

import ipywidgets as widgets
from IPython.display import DisplayHandle, display

from ...answer.display import caption
from ...answer.previews import thumbnail
from ...answer.result import Result

THUMB_PX = 192  # a still's pictures: enough to recognise, light in the notebook
_MUTED = "opacity: 0.72; font-size: 12px;"
_THUMB = "max-height: 192px; margin-right: 6px; border-radius: 4px;"


class Snapshot:
    """The output under a panel that shows its gallery where widgets cannot run."""

    def __init__(self) -> None:
        self.widget = widgets.Box(layout=widgets.Layout(display="none"))
        self.html = still_html([])
        self._handle: DisplayHandle | None = None
        self._figures: dict[int, str] = {}  # result number → its figure, made once

    def show(self) -> None:
        """Display the still under the panel; ``take`` replaces it from then on."""
        self._handle = display(self._bundle(), raw=True, display_id=True)

    def take(self, numbered: Sequence[tuple[int, Result]]) -> None:
        """The gallery as it stands now (result number, result; newest first)."""
        self._figures = {number: self._figures.get(number) or figure_html(number, result)
                         for number, result in numbered}  # fmt: skip
        self.html = still_html(list(self._figures.values()))
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)

    def _bundle(self) -> dict[str, object]:
        render = self.widget._repr_mimebundle_  # None once the panel closed it
        view = (render() if render is not None else None) or {}
        return {**view, "text/plain": "nb_banana panel (a still of its gallery)",
                "text/html": self.html}  # fmt: skip


def still_html(figures: Sequence[str]) -> str:
    """The results' figures under a line that says what this is."""
    count = len(figures)
    return (
        '<div class="nb-banana-panel-still" style="font-family: var(--jp-ui-font-family, '
        f'system-ui, sans-serif);"><div style="{_MUTED}">🍌 nb_banana panel: {count} '
        f"result{'s' * (count != 1)} in its gallery (a still; run the notebook to use the "
        f"panel).</div>{''.join(figures)}</div>"
    )


def figure_html(number: int, result: Result) -> str:
    """One result as the still shows it: its thumbnails over its number and caption."""
    alt = html.escape(result.request.text[:200], quote=True)
    pieces = ['<figure style="margin: 6px 0;">']
    for shown in result.previews or result.outputs:
        data = base64.b64encode(thumbnail(shown.data, THUMB_PX)).decode()
        pieces.append(f'<img src="data:image/jpeg;base64,{data}" alt="{alt}" style="{_THUMB}"/>')
    pieces.append(f'<figcaption style="{_MUTED}">Result {number} · '
                  f"{html.escape(caption(result))}</figcaption></figure>")  # fmt: skip
    return "".join(pieces)
