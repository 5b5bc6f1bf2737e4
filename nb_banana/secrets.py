"""Where the API key comes from, and the one function that keeps it out of everything shown.

The key typed with ``%banana key`` lives only in this module's memory. Otherwise the SDK's
own environment variables apply (``GOOGLE_API_KEY`` wins over ``GEMINI_API_KEY``, as in the
SDK). Every message, traceback and listing nb_banana shows goes through ``redact``.
"""

from __future__ import annotations

import os

OFFLINE_KEY = "nb-banana-offline"
_ENV_NAMES = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
_typed_key: str | None = None


def set_typed_key(key: str | None) -> None:
    """Keep a key typed by the user for this kernel only; ``None`` forgets it."""
    global _typed_key
    _typed_key = key.strip() or None if key else None


def api_key() -> str | None:
    """The key a call should use: the typed one, else the SDK's environment variables."""
    if _typed_key:
        return _typed_key
    for name in _ENV_NAMES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def key_source() -> str:
    """Where the key comes from, for listings that must say so without showing it."""
    if _typed_key:
        return "typed with %banana key (kept in memory only)"
    for name in _ENV_NAMES:
        if os.environ.get(name, "").strip():
            return f"environment variable {name}"
    return "none"


def redact(text: str) -> str:
    """Replace every key this process knows of with a mask, wherever it appears in ``text``."""
    keys = {_typed_key or "", *(os.environ.get(n, "").strip() for n in _ENV_NAMES)}
    for key in sorted(keys - {"", OFFLINE_KEY}, key=len, reverse=True):
        if len(key) >= 4:
            text = text.replace(key, "***")
    return text
