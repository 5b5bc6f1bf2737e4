"""Draw on a reference picture to show the model what to change: ``nb_banana.markup(image)``.

``marks.py`` holds the marks as data, ``render.py`` draws them with Pillow (the picture that
is sent), ``widget.py`` is the anywidget whose page side, ``widget.js``, edits the marks.
The package is not called ``markup`` so that ``nb_banana.markup`` stays the function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .widget import Markup

__all__ = ["Markup", "markup"]


def markup(image: object, marks: Sequence[Mapping[str, Any]] | None = None) -> Markup:
    """A drawing surface over ``image`` (anything nb_banana sends as an image): pen,
    rectangle, ellipse, arrow and text in strong colours, with undo and clear.

    Show it by leaving it last in a cell; send it as ``{name}`` or ``-i NAME`` and the
    marked-up picture goes, at full size. The marks are kept in the store by the picture,
    so re-running the cell, or a restarted kernel, opens it with the marks last drawn on
    it; ``marks`` sets them instead (``[]`` to start clean).
    """
    return Markup(image, marks=marks)
