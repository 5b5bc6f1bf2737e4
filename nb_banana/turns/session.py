"""What one kernel remembers between cells: its chats and the last failure's details."""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..gemini import secrets
from ..memory.chat import Chats, notebook_scope
from .budget import Ledger

if TYPE_CHECKING:
    from ..answer.result import Result


_LOADING = threading.Lock()


@dataclass
class Session:
    last_error: str | None = None
    _chats: Chats | None = field(default=None, repr=False)
    calls: int = 0
    cached: int = 0
    images: int = 0
    tokens: int = 0
    cost: float = 0.0
    # Calls in flight, counted against the budget until their answers are recorded.
    ledger: Ledger = field(default_factory=Ledger, repr=False)

    @property
    def chats(self) -> Chats:
        """The notebook's chats, loaded from the store on first use (so they survive restarts)."""
        with _LOADING:  # the panel's worker and the kernel's thread may both be first
            if self._chats is None:
                from ..context import context
                from ..gemini.settings import settings
                from ..memory.store import open_store_or_none

                store = open_store_or_none(settings().store)
                try:
                    self._chats = Chats(store, notebook_scope(store, context().cell))
                except StoreError:  # unreadable: this kernel's chats live in memory
                    self._chats = Chats(None, notebook_scope())
            return self._chats

    def account(self, result: Result) -> None:
        """Add a finished call to this kernel's running totals (``%banana usage``, panel)."""
        self.calls += 1
        self.cached += result.cached
        self.images += len(result.outputs)
        self.tokens += 0 if result.cached else result.usage.total_tokens
        self.cost += result.cost

    def remember_error(self, exc: BaseException) -> None:
        """Keep the full traceback, key masked, for ``%banana error``."""
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.last_error = secrets.redact(text)


def session() -> Session:
    """This kernel's chats, counters and last error."""
    from ..context import context

    return context().session
