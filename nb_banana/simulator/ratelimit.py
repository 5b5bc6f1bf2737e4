"""Rate limits: at most N generateContent requests per W seconds for each model, and the 429
the API answers past it.

A client that sends many pictures at once must cope with ``RESOURCE_EXHAUSTED``: wait for
the delay the answer names, then try again. The limit is a sliding window per model (the
API's quotas are per project and model): a request is admitted when fewer than N admitted
requests for its model arrived in the last W seconds, so the delay in the answer is exactly
the time until the oldest of them leaves the window, and a client that waits that long gets
through. Refused requests do not count against the limit. The 429's body copies the API's
(a ``Help`` link, a ``QuotaFailure`` naming the quota, a ``RetryInfo`` with the delay); the
``Retry-After`` header is the simulator's addition (docs/simulator.md lists the guesses).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from .rejections import Rejection

_RATE_LIMITS_URL = "https://ai.google.dev/gemini-api/docs/rate-limits"
_QUOTA_METRIC = "generativelanguage.googleapis.com/generate_requests_per_model"
_QUOTA_ID = "GenerateRequestsPerMinutePerProjectPerModel"


@dataclass(frozen=True)
class RateLimit:
    """``requests`` generateContent requests per ``window`` seconds, for each model."""

    requests: int
    window: float

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise TypeError(f"a rate limit's requests must be an int, not {self.requests!r}")
        if self.requests < 1 or not self.window > 0:
            raise ValueError(
                f"a rate limit needs requests >= 1 and window > 0, not {self.requests}, "
                f"{self.window}"
            )


class RateLimiter:
    """The sliding windows of admitted requests, and how many requests were refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limit: RateLimit | None = None
        self._admitted: dict[str, deque[float]] = {}
        self._refused = 0

    @property
    def limit(self) -> RateLimit | None:
        return self._limit

    @limit.setter
    def limit(self, limit: RateLimit | None) -> None:
        """Set or lift the limit; requests admitted so far still count against a new one."""
        with self._lock:
            self._limit = limit

    @property
    def refused(self) -> int:
        """How many requests the limit has answered with 429 since the last ``reset``."""
        with self._lock:
            return self._refused

    def admit(self, model_id: str) -> None:
        """Count a request for ``model_id``, or raise the API's 429 when it is over the limit."""
        with self._lock:
            limit = self._limit
            if limit is None:
                return
            now = time.monotonic()
            admitted = self._admitted.setdefault(model_id, deque())
            while admitted and admitted[0] <= now - limit.window:
                admitted.popleft()
            if len(admitted) < limit.requests:
                admitted.append(now)
                return
            self._refused += 1
            delay = admitted[-limit.requests] + limit.window - now
        raise _quota_exceeded(model_id, limit, delay)

    def reset(self) -> None:
        """No limit, no history, no refusals counted."""
        with self._lock:
            self._limit = None
            self._admitted.clear()
            self._refused = 0


def _quota_exceeded(model_id: str, limit: RateLimit, delay: float) -> Rejection:
    """The API's 429 for a request ``delay`` seconds too early, in the shape of its quota errors."""
    retry = _duration(delay)
    message = (
        "You exceeded your current quota, please check your plan and billing details. For "
        f"more information on this error, head to: {_RATE_LIMITS_URL}. To monitor your "
        "current usage, head to: https://ai.dev/rate-limit. \n"
        f"* Quota exceeded for metric: {_QUOTA_METRIC}, limit: {limit.requests}, "
        f"model: {model_id}\nPlease retry in {retry}."
    )
    details = (
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {"description": "Learn more about Gemini API quotas", "url": _RATE_LIMITS_URL}
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": _QUOTA_METRIC,
                    "quotaId": _QUOTA_ID,
                    "quotaDimensions": {"location": "global", "model": model_id},
                    "quotaValue": str(limit.requests),
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry},
    )
    return Rejection(429, message, details=details, headers=(("Retry-After", _retry_after(delay)),))


def _duration(seconds: float) -> str:
    """A protobuf Duration in JSON ("3s", "2.500s"), rounded up to the millisecond, so that a
    client waiting exactly that long is not early."""
    millis = max(0, math.ceil(seconds * 1000))
    if millis % 1000 == 0:
        return f"{millis // 1000}s"
    return f"{millis / 1000:.3f}s"


def _retry_after(seconds: float) -> str:
    """``Retry-After`` in whole seconds (HTTP has no fractions), rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
