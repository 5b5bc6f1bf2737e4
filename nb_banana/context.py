"""The one owner of everything a kernel holds: settings, engine, store handles, chats.

It sits below the faces and the turns, which read it through the accessors here
(``settings()``, ``session()``, ``engine()``, ``open_store()``), and above memory, answer
and gemini, which never read it: they are handed what they need.

A kernel restart starts a new process and so a new ``Context``; ``restart`` does the same
inside one process (for tests, and to reason about what a restart forgets). Only the store
on disk outlives it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import StoreError
from .gemini.settings import Banana, register
from .memory.chat import Chats, notebook_scope
from .memory.session import Session
from .memory.store import Store, explain, resolve_root

if TYPE_CHECKING:
    from .gemini.engine import Engine


class Context:
    """Per-kernel state, created on first use; each part is built when first asked for."""

    def __init__(self) -> None:
        self.settings: Banana = Banana()
        self._session = Session(open_chats=self._open_chats)
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
    def session(self) -> Session:
        return self._session

    @session.setter
    def session(self, new: Session) -> None:
        """A fresh ``Session`` (tests, a reset) opens its chats as the context's own does."""
        if new.open_chats is None:
            new.open_chats = self._open_chats
        self._session = new

    def _open_chats(self) -> Chats:
        """The notebook's chats from its store (in memory alone when there is none)."""
        store = open_store_or_none(self.settings.store)
        return Chats(store, notebook_scope(store, self.cell))

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                from .gemini.engine import Engine  # loads the SDK: not at %load_ext

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


def settings() -> Banana:
    """This kernel's settings instance (the extension registers this same one)."""
    return context().settings


def session() -> Session:
    """This kernel's chats, counters and last error."""
    return context().session


def engine() -> Engine:
    """This kernel's engine (one loop thread, its clients)."""
    return context().engine


_open_lock = threading.Lock()


def open_store_or_none(setting: str) -> Store | None:
    """The store, or ``None`` when its folder cannot be used (read-only, full): work goes on."""
    try:
        return open_store(setting)
    except StoreError:
        return None


def open_store(setting: str) -> Store:
    """The ``Store`` for a setting, opened once per kernel.

    A relative setting (the default ``.nb_banana``) is resolved against the working folder
    when first used, and again only when ``Banana.store`` changes, so ``%cd`` does not split
    the notebook's store in two.
    """
    ctx = context()
    with _open_lock:
        if ctx.store_root is None or ctx.store_root[0] != setting:
            ctx.store_root = (setting, resolve_root(setting))
        root = ctx.store_root[1]
        if root not in ctx.stores:
            try:
                ctx.stores[root] = Store(root)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(explain(root, exc)) from exc
        return ctx.stores[root]
