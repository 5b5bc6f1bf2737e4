"""The ipywidgets face: ``%banana panel`` or ``nb_banana.panel()``.

A prompt box, the model's options, references, and Generate / Continue / Stop over the same
the turn runner (``turns``) as ``%%banana``; results show in a gallery with the
chat's timeline under it. ``app.py`` wires it; each part of the screen has its own module.
"""

from __future__ import annotations

import sys
import types

from ..colab import enable_widgets
from .app import Panel

__all__ = ["Panel", "panel"]


def panel() -> Panel:
    """Show a panel below the current cell and return it (to drive or inspect from code).

    Under it goes a still of its gallery, which a notebook read without a kernel shows
    (``snapshot.py``); a live front end draws the panel and nothing for the still.
    """
    from IPython.display import display

    enable_widgets()
    shown = Panel()
    view = shown.widget._repr_mimebundle_() or {}
    display({**view, "text/plain": repr(shown)}, raw=True)
    shown.snapshot.show()
    return shown


class _CallableModule(types.ModuleType):
    """Importing this package makes ``nb_banana.faces.panel`` the module, not the function (Python
    sets the parent's attribute on import), so the module calls ``panel()`` itself and
    ``nb_banana.panel()`` works either way."""

    def __call__(self) -> Panel:
        return panel()


sys.modules[__name__].__class__ = _CallableModule
