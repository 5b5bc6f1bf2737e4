"""nb_banana: Google's Gemini image models (Nano Banana) in Jupyter.

``%load_ext nb_banana`` registers ``%%banana``; ``nb_banana.generate(...)`` is the same
engine from plain Python. Heavy modules (the SDK, Pillow) load on first use, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import agenerate, compare, generate, generate_each, provenance
    from .batch import submit_batch
    from .chat import Chat
    from .comparison import Comparison
    from .each_result import EachResult
    from .markup_widget import markup
    from .result import Result

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
    "provenance",
    "submit_batch",
]
__version__ = "0.1.0"

_LAZY = {
    "generate": "api",
    "agenerate": "api",
    "generate_each": "api",
    "EachResult": "each_result",
    "Result": "result",
    "Chat": "chat",
    "compare": "api",
    "Comparison": "comparison",
    "provenance": "api",
    "markup": "markup_widget",
    "submit_batch": "batch",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'nb_banana' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the ``Banana`` settings with this shell."""
    from .magics import BananaMagics, watch_cells
    from .settings import register, settings

    register(ipython, settings())
    ipython.register_magics(BananaMagics)
    watch_cells(ipython)
