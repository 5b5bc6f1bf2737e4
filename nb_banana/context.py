"""The one owner of everything a kernel holds: settings, engine, store handles, chats.

A kernel restart starts a new process and so a new ``Context``; ``restart`` does the same
inside one process (for tests, and to reason about what a restart forgets). Only the store
on disk outlives it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .gemini.engine import Engine
    from .gemini.settings import Banana
    from .memory.store import Store
    from .turns.session import Session


class Context:
    """Per-kernel state, created on first use; each part is built when first asked for."""

    def __init__(self) -> None:
        from .gemini.settings import Banana
        from .turns.session import Session

        self.settings: Banana = Banana()
        self.session: Session = Session()
        self.cell: str | None = None  # the id of the notebook cell running now, if any
        self.markups = 0  # ``nb_banana.markup`` calls the running cell has made so far
        self.stores: dict[Path, Store] = {}
        # ``Banana.store`` as last used, and the absolute folder it meant then: re-resolved
        # only when the setting changes, never on ``%cd``.
        self.store_root: tuple[str, Path] | None = None
        self.catalogs: dict = {}  # endpoint -> the future of its model list (catalog.py)
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                from .gemini.engine import Engine

                self._engine = Engine()
            return self._engine


_context: Context | None = None
_context_lock = threading.Lock()


def context() -> Context:
    global _context
    with _context_lock:
        if _context is None:
            _context = Context()
        return _context


def restart() -> Context:
    """Forget the kernel's state as a restart does: a new context, the store left on disk.

    The shell (if the extension is loaded) is given the new settings, as a new kernel's
    ``%load_ext`` would; the old engine's loop is stopped.
    """
    global _context
    from .gemini.settings import register

    with _context_lock:
        old, _context = _context, Context()
        new = _context
    if old is not None:
        if old._engine is not None:
            old._engine.close()
        for store in old.stores.values():
            store.close()
        if old.settings.parent is not None:
            register(old.settings.parent, new.settings, replacing=old.settings)
    return new
