"""What one kernel remembers between cells: its chats, its running totals, the calls in
flight (the ``Ledger`` the budget counts) and the last failure's details. The context
builds it and tells it how to open the notebook's chats."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..gemini import secrets
from .chat import Chats, notebook_scope

if TYPE_CHECKING:
    from ..answer.result import Result


_LOADING = threading.Lock()


@dataclass
class Hold:
    """One call's estimate, counted as in flight until ``release`` (idempotent)."""

    amount: float
    ledger: Ledger | None = field(default=None, repr=False)

    def release(self) -> None:
        if self.ledger is not None:
            self.ledger.drop(self)
            self.ledger = None


class Ledger:
    """This kernel's calls in flight: money committed that the store does not show yet."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._holds: list[Hold] = []

    @property
    def total(self) -> float:
        with self.lock:
            return sum(hold.amount for hold in self._holds)

    def hold(self, amount: float) -> Hold:
        with self.lock:
            held = Hold(amount, self)
            self._holds.append(held)
            return held

    def drop(self, held: Hold) -> None:
        with self.lock:
            self._holds = [h for h in self._holds if h is not held]


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
    # How to open the notebook's chats from its store: set by the context that owns this.
    open_chats: Callable[[], Chats] | None = field(default=None, repr=False, compare=False)

    @property
    def chats(self) -> Chats:
        """The notebook's chats, loaded from the store on first use (so they survive restarts)."""
        with _LOADING:  # the panel's worker and the kernel's thread may both be first
            if self._chats is None:
                try:
                    self._chats = self.open_chats() if self.open_chats else None
                except StoreError:  # unreadable: this kernel's chats live in memory
                    self._chats = None
                if self._chats is None:
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
