"""nb_banana: Google's Gemini image models (Nano Banana) in Jupyter.

``%load_ext nb_banana`` registers ``%%banana``; ``nb_banana.generate(...)`` is the same
engine from plain Python. Heavy modules (the SDK, Pillow) load on first use, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__ as __version__

if TYPE_CHECKING:
    from .answer.comparison import Comparison
    from .answer.each_result import EachResult
    from .answer.result import Result
    from .faces.api import agenerate, compare, generate, generate_each, provenance
    from .faces.markup import markup
    from .faces.panel import panel
    from .memory.chat import Chat
    from .turns.batch import submit_batch

__all__ = [
    "Chat",
    "Comparison",
    "EachResult",
    "Result",
    "agenerate",
    "compare",
    "generate",
    "generate_each",
    "load_ipython_extension",
    "markup",
    "panel",
    "provenance",
    "submit_batch",
]

_LAZY = {
    "generate": "faces.api",
    "agenerate": "faces.api",
    "generate_each": "faces.api",
    "EachResult": "answer.each_result",
    "Result": "answer.result",
    "Chat": "memory.chat",
    "compare": "faces.api",
    "Comparison": "answer.comparison",
    "provenance": "faces.api",
    "markup": "faces.markup",
    "panel": "faces.panel",
    "submit_batch": "turns.batch",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'nb_banana' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the ``Banana`` settings with this shell."""
    # The magics, the settings and the kernel's context load when the extension does, so
    # that ``import nb_banana`` alone stays light.
    from .context import settings
    from .faces.colab import load_notes
    from .faces.magics import BananaMagics, watch_cells
    from .gemini import secrets
    from .gemini.settings import register
    from .memory.store import resolve_root

    register(ipython, settings())
    ipython.register_magics(BananaMagics)
    watch_cells(ipython)
    for note in load_notes(lambda: resolve_root(settings().store), secrets.key_source):
        print(note)
