"""Where the API key comes from, and the functions that keep it out of everything shown.

The key typed with ``%banana key`` lives only in this module's memory. Otherwise the SDK's
own environment variables apply (``GOOGLE_API_KEY`` wins over ``GEMINI_API_KEY``, as in the
SDK), and in Colab the same names in its Secrets panel. Every message, traceback and
listing nb_banana shows goes through ``redact``; SDK exceptions are ``scrub``-bed before
they are chained (a server may echo the key in its error body, and a traceback prints the
chain), and ``guard_logging`` masks the key in log records (the SDK's retry log quotes
error bodies verbatim).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import traceback
from typing import Any, TypeVar

OFFLINE_KEY = "nb-banana-offline"
_ENV_NAMES = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
_typed_key: str | None = None
_logging_guarded = False
# The Colab module last asked and what its Secrets held (``colab_key``).
_colab_asked: dict[str, Any] = {}
_colab_lock = threading.Lock()

E = TypeVar("E", bound=BaseException)


def set_typed_key(key: str | None) -> None:
    """Keep a key typed by the user for this kernel only; ``None`` forgets it."""
    global _typed_key
    _typed_key = key.strip() or None if key else None


def api_key() -> str | None:
    """The key a call should use: the typed one, else the SDK's environment variables,
    else (in Colab) the Secrets panel's."""
    if _typed_key:
        return _typed_key
    for name in _ENV_NAMES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    found = colab_key()
    return found[1] if found else None


def key_source() -> str:
    """Where the key comes from, for listings that must say so without showing it."""
    if _typed_key:
        return "typed with %banana key (kept in memory only)"
    for name in _ENV_NAMES:
        if os.environ.get(name, "").strip():
            return f"environment variable {name}"
    found = colab_key()
    return f"Colab Secrets ({found[0]})" if found else "none"


def colab_key() -> tuple[str, str] | None:
    """``(name, key)`` from Colab's Secrets panel (``google.colab.userdata``), asked once
    per kernel: each ask goes to the browser, which may show an access prompt.

    Colab imports ``google.colab`` into every kernel, so outside Colab this imports
    nothing. A secret that is missing or not shared with the notebook is no key.
    """
    colab = sys.modules.get("google.colab")
    if colab is None:
        return None
    with _colab_lock:
        if _colab_asked.get("module") is not colab:
            _colab_asked.update(module=colab, found=_ask_colab(colab))
        return _colab_asked["found"]


def _ask_colab(colab: Any) -> tuple[str, str] | None:
    for name in _ENV_NAMES:
        try:
            value = (colab.userdata.get(name) or "").strip()
        except Exception:  # Colab's SecretNotFoundError, NotebookAccessError, ...
            continue
        if value:
            return name, value
    return None


def redact(text: str) -> str:
    """Replace every key this process knows of with a mask, wherever it appears in ``text``."""
    colab = _colab_asked.get("found")
    keys = {
        _typed_key or "",
        *(os.environ.get(n, "").strip() for n in _ENV_NAMES),
        colab[1] if colab else "",
    }
    for key in sorted(keys - {"", OFFLINE_KEY}, key=len, reverse=True):
        if len(key) >= 4:
            text = text.replace(key, "***")
    return text


def scrub(exc: E, *, frames: bool = True) -> E:
    """Mask the key in the messages of ``exc`` and of every exception chained to it.

    Tracebacks print ``str()`` of each exception in the chain, which for an SDK error is
    the server's whole error body; scrubbing in place keeps the chain for ``%banana error``.
    ``frames=False`` also drops their tracebacks: the SDK's and httpx's frames hold the
    request headers (the key) as locals, which ``%xmode Verbose`` and debuggers print.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(redact(a) if isinstance(a, str) else a for a in current.args)
        if not frames:
            current.__traceback__ = None
        message = getattr(current, "message", None)
        if isinstance(message, str):
            with contextlib.suppress(AttributeError):  # a read-only property
                current.message = redact(message)  # type: ignore[attr-defined]
        current = current.__cause__ or current.__context__
    return exc


def guard_logging() -> None:
    """Mask the key in every log record from now on (idempotent).

    A record factory rather than a filter: filters apply only to the logger a record was
    made on, and the SDK, httpx and tenacity log through many loggers, some made later.
    """
    global _logging_guarded
    if _logging_guarded:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redacted(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _logging_guarded = True


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a malformed log call fails later, in the handler, as it would anyway
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if redact(text) != text:
            record.exc_text = redact(text)
    return record
