"""How an answer shows itself in a notebook, without importing the module that draws it.

``Result``, ``Comparison``, ``EachResult`` and ``DryRun`` each have ``_repr_mimebundle_``
(so ``display(x)`` and a cell's last line show them, with or without ``%load_ext``), and it
asks ``bundle`` here. ``display.py``, which renders them, fills the table when it loads:
display imports the answers, never the other way round. ``turns/runner.py`` imports display
at its top, so every answer a face hands out can draw itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Bundle = tuple[dict, dict]
_DRAW: dict[type, Callable[[Any], Bundle]] = {}


def draw_with(kind: type, draw: Callable[[Any], Bundle]) -> None:
    """Show every ``kind`` with ``draw`` (called by display.py as it loads)."""
    _DRAW[kind] = draw


def bundle(answer: object) -> Bundle:
    """The answer's display; its repr alone when display.py was never loaded."""
    draw = _DRAW.get(type(answer))
    if draw is None:
        return {"text/plain": repr(answer)}, {}
    return draw(answer)
