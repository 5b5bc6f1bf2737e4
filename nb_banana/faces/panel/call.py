"""One Generate or Continue click, from the click until its outcome is on screen.

Three threads touch a call: the kernel's (the click, Stop), the panel's worker (preparing
the request, showing the outcome) and the engine's (the future completing). The lock makes
"submitted or stopped" and "whose outcome is shown" each happen exactly once.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..live import LiveView


class Call:
    def __init__(self, model_id: str, count: int) -> None:
        self.model_id = model_id
        self.count = count
        self.started = time.perf_counter()
        self.shown = threading.Event()
        self._lock = threading.Lock()
        self._future: concurrent.futures.Future[Any] | None = None
        self._stopped = False
        self._ended = False
        # A streamed call's live view (``--thoughts``), set by the worker once it is planned.
        self.live: LiveView | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def submit(
        self, start: Callable[[], concurrent.futures.Future[Any]]
    ) -> concurrent.futures.Future[Any] | None:
        """Start the core's call unless Stop came first (then nothing is sent: ``None``)."""
        with self._lock:
            if self._stopped:
                return None
            self._future = start()
            return self._future

    def stop(self) -> bool:
        """Cancel; True if the call will come to nothing (False: its outcome is on its way)."""
        with self._lock:
            if self._ended:
                return False
            self._stopped = True
            future = self._future
        return future is None or future.cancel()

    def end(self) -> bool:
        """Claim the right to show the outcome: only the first claimant gets it."""
        with self._lock:
            if self._ended:
                return False
            self._ended = True
            return True

    def tick(self, show: Callable[[float], None]) -> None:
        """Show the elapsed time, unless the outcome has been claimed (it must not be covered)."""
        with self._lock:
            if not self._ended:
                show(self.elapsed())
