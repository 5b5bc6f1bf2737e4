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

    def show(self) -> None:
        """Display the still under the panel; ``take`` replaces it from then on."""
        self._handle = display(self._bundle(), raw=True, display_id=True)

    def take(self, numbered: Sequence[tuple[int, Result]]) -> None:
        """The gallery as it stands now (result number, result; newest first)."""
        self.html = still_html(numbered)
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)

    def _bundle(self) -> dict[str, object]:
        view = self.widget._repr_mimebundle_() or {}
        return {**view, "text/plain": "nb_banana panel (a still of its gallery)",
                "text/html": self.html}  # fmt: skip


def still_html(numbered: Sequence[tuple[int, Result]]) -> str:
    """Each result's thumbnails over its number and caption, newest first."""
    count = len(numbered)
    pieces = ['<div class="nb-banana-panel-still" style="font-family: var(--jp-ui-font-family, '
              'system-ui, sans-serif);">',
              f'<div style="{_MUTED}">🍌 nb_banana panel: {count} result{"s" * (count != 1)} '
              "in its gallery (a still; run the notebook to use the panel).</div>"]  # fmt: skip
    for number, result in numbered:
        pieces.append('<figure style="margin: 6px 0;">')
        for shown in result.previews or result.outputs:
            data = base64.b64encode(thumbnail(shown.data, THUMB_PX)).decode()
            pieces.append(f'<img src="data:image/jpeg;base64,{data}" '
                          f'alt="{html.escape(result.request.text[:200], quote=True)}" '
                          f'style="{_THUMB}"/>')  # fmt: skip
        pieces.append(f'<figcaption style="{_MUTED}">Result {number} · '
                      f"{html.escape(caption(result))}</figcaption></figure>")  # fmt: skip
    pieces.append("</div>")
    return "".join(pieces)
