"""Faults: the ways a real Gemini call goes wrong, made to happen on demand.

Tests and teaching notebooks queue a ``Fault`` with ``Simulator.inject``; the next
generateContent request takes it off the queue and answers with it instead of (or, for
``slow`` and ``bad_image``, on top of) a normal reply; ``replay`` answers with a recorded
reply verbatim. A batch takes one for each of its requests when it is created, so a fault
can make one request of a batch fail. The same faults can be queued over HTTP
(``POST /_simulator/faults``) with ``Fault.from_json``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any

from .rejections import DEFAULT_MESSAGES

# Which fields each kind takes; ``from_json`` refuses the others.
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "http": ("status", "message", "retry_after"),
    "slow": ("seconds",),
    "block": ("reason",),
    "finish": ("reason",),
    "text_only": ("text",),
    "empty_candidates": (),
    "malformed_json": (),
    "drop": (),
    "bad_image": (),
    "replay": ("reply",),
    "cut_stream": ("after",),
    "stream_error": ("after", "status", "message"),
}


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour; build it with the classmethods, not the constructor."""

    kind: str
    status: int | None = None
    message: str | None = None
    retry_after: float | None = None
    seconds: float | None = None
    reason: str | None = None
    text: str | None = None
    reply: dict[str, Any] | None = field(default=None, hash=False)
    after: int | None = None

    @classmethod
    def http(
        cls, status: int, message: str | None = None, retry_after: float | None = None
    ) -> Fault:
        """An HTTP error in the API's JSON shape; ``retry_after`` adds a Retry-After header."""
        if not 400 <= status <= 599:
            raise ValueError(f"an HTTP fault needs a 4xx or 5xx status, not {status}")
        message = message or DEFAULT_MESSAGES.get(status)
        return cls("http", status=status, message=message, retry_after=retry_after)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` and then answer normally: for client timeouts and Stop buttons."""
        if seconds < 0:
            raise ValueError("a slow fault needs seconds >= 0")
        return cls("slow", seconds=seconds)

    @classmethod
    def block(cls, reason: str = "SAFETY") -> Fault:
        """The prompt is refused: no candidates, ``promptFeedback.blockReason``."""
        return cls("block", reason=reason)

    @classmethod
    def finish(cls, reason: str) -> Fault:
        """One candidate that ended with ``reason`` (IMAGE_SAFETY, NO_IMAGE, ...) and no image."""
        return cls("finish", reason=reason)

    @classmethod
    def text_only(cls, text: str = "I can't draw that, but here is a description.") -> Fault:
        """A normal STOP reply whose only part is text."""
        return cls("text_only", text=text)

    @classmethod
    def empty_candidates(cls) -> Fault:
        """``{"candidates": []}`` with usage, and no block reason."""
        return cls("empty_candidates")

    @classmethod
    def malformed_json(cls) -> Fault:
        """Status 200 with a body that is not JSON."""
        return cls("malformed_json")

    @classmethod
    def drop(cls) -> Fault:
        """Headers promising a body, half of it, then the connection closes."""
        return cls("drop")

    @classmethod
    def bad_image(cls) -> Fault:
        """A normal reply whose image bytes do not decode."""
        return cls("bad_image")

    @classmethod
    def replay(cls, reply: dict[str, Any]) -> Fault:
        """Answer a valid request with ``reply`` verbatim (a recorded GenerateContentResponse).

        The request is still checked (key, body, rules, signatures) as any other; only the
        answer is replaced, so a client is tested against a recorded shape.
        """
        if not isinstance(reply, dict):
            raise ValueError("a replay fault needs the reply as a JSON object")
        return cls("replay", reply=json.loads(json.dumps(reply)))

    @classmethod
    def cut_stream(cls, after: int = 2) -> Fault:
        """A streamed reply (``streamGenerateContent``) whose connection closes after
        ``after`` events, in the middle of the next one; a plain call answers normally."""
        if after < 0:
            raise ValueError("a cut_stream fault needs after >= 0")
        return cls("cut_stream", after=after)

    @classmethod
    def stream_error(cls, after: int = 2, status: int = 500, message: str | None = None) -> Fault:
        """A streamed reply that sends ``after`` events, then ``data: {"error": …}`` in the
        API's error shape, and ends; a plain call answers normally."""
        if after < 0 or not 400 <= status <= 599:
            raise ValueError("a stream_error fault needs after >= 0 and a 4xx or 5xx status")
        return cls("stream_error", after=after, status=status,
                   message=message or DEFAULT_MESSAGES.get(status))  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """A fault from the control surface's JSON: ``{"kind": "http", "status": 429, ...}``."""
        kind = data.get("kind")
        if kind not in _KIND_FIELDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(_KIND_FIELDS)}")
        extra = set(data) - {"kind", *_KIND_FIELDS[kind]}
        if extra:
            raise ValueError(f"a {kind!r} fault takes no {', '.join(sorted(extra))}")
        return getattr(cls, kind)(**{k: v for k, v in data.items() if k != "kind"})

    def to_json(self) -> dict[str, Any]:
        """The fields that are set, in the shape ``from_json`` reads."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


class FaultQueue:
    """A thread-safe FIFO of faults; each generateContent request (and each request of a new
    batch) takes at most one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()

    def push(self, fault: Fault, times: int) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.extend([fault] * times)

    def pop(self) -> Fault | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._queue)
