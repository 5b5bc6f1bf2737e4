"""Draw on a reference picture to show the model what to change: ``nb_banana.markup(image)``.

``marks.py`` holds the marks as data, ``render.py`` draws them with Pillow (the picture that
is sent), ``widget.py`` is the anywidget whose page side, ``widget.js``, edits the marks.
It lives at ``nb_banana.faces.markup``, so ``nb_banana.markup`` stays the function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...context import context
from ..colab import enable_widgets
from .widget import Markup

__all__ = ["Markup", "markup"]


def markup(image: object, marks: Sequence[Mapping[str, Any]] | None = None) -> Markup:
    """A drawing surface over ``image`` (anything nb_banana sends as an image): pen,
    rectangle, ellipse, arrow and text in strong colours, with undo and clear.

    Show it by leaving it last in a cell; send it as ``{name}`` or ``-i NAME`` and the
    marked-up picture goes, at full size. The marks are kept in the store by the mark-up:
    the notebook cell that made it, its place among the cell's ``markup`` calls, and the
    picture; so re-running the cell, or a restarted kernel, opens each mark-up with its own
    marks (``window = markup(photo)`` and ``door = markup(photo)`` never share theirs).
    Outside a notebook cell (no cell id) they are kept by the picture alone. ``marks``
    sets them instead (``[]`` to start clean).
    """
    enable_widgets()
    return Markup(image, marks=marks, owner=_owner())


def _owner() -> str | None:
    """This mark-up within the running cell: the cell's id and how many ``markup`` calls
    the cell made before it in this run; ``None`` outside a notebook cell."""

    ctx = context()
    if not ctx.cell:
        return None
    place = ctx.markups
    ctx.markups += 1
    return f"cell {ctx.cell} #{place}"
