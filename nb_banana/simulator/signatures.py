"""Thought signatures the simulator issues, and the check that one sent back is genuine.

A real signature is opaque and only the API can tell a good one from a bad one; what a
client must do is send it back unchanged, on the same part, with the same bytes. The
simulator makes that testable: a signature is an HMAC over the model id, the exact bytes
of the part it sits on (the decoded image, or the UTF-8 text) and the signature's own
length, so re-encoding an image, editing a text, moving a signature to another part,
replaying it to another model, or cutting it short all turn it into a "Corrupted thought
signature." The key is fixed rather than random so that replies, and histories saved by
a notebook, stay valid across processes.

Real signatures are big (../shared/REAL_REPLIES.md, "Thought signatures": 1,100,216 and
1,098,588 base64 characters on a Pro reply's text and image parts, about 0.6 MB on 3.1
Flash Image), and a chat sends every earlier one back, so the simulator pads its HMAC to a
realistic size with bytes drawn from it; the whole signature is checked, padding included.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ..gemini.models import resolve_model

_KEY = b"nb_banana simulator thought signatures: for tests only, not a secret"
# The store recognises the simulator's signatures by this prefix (store._SIMULATOR_SIGNATURE).
_PREFIX = b"nbsim1:"
MIN_BYTES = len(_PREFIX) + hashlib.sha256().digest_size
# Decoded sizes of a signature by model (base64 is 4/3 of it): Pro's is the recorded
# 1,100,216 base64 characters; every other model gets 3.1 Flash Image's ~0.6 MB (a guess
# for Lite and for a model newer than the table).
PRO_BYTES = 1_100_216 // 4 * 3
FLASH_BYTES = 600_000 // 4 * 3
REAL_BYTES = {resolve_model("pro").id: PRO_BYTES}


def realistic_size(model: str) -> int:
    """How many bytes a real signature of ``model`` has (decoded)."""
    return REAL_BYTES.get(model, FLASH_BYTES)


def sign(model: str, data: bytes, size: int | None = None) -> bytes:
    """The signature the simulator puts on a part of ``model``'s reply holding ``data``:
    ``size`` bytes (``None``: the model's realistic size, at least ``MIN_BYTES``)."""
    size = realistic_size(model) if size is None else size
    if size < MIN_BYTES:
        raise ValueError(f"a signature needs at least {MIN_BYTES} bytes, not {size}")
    message = model.encode() + b"\0" + data
    if size > MIN_BYTES:  # the short form is the one earlier simulators issued: still valid
        message += b"\0" + str(size).encode()
    digest = hmac.new(_KEY, message, hashlib.sha256).digest()
    padding = hashlib.shake_256(digest).digest(size - MIN_BYTES) if size > MIN_BYTES else b""
    return _PREFIX + digest + padding


def sign_b64(model: str, data: bytes, size: int | None = None) -> str:
    """``sign`` as the API writes it in JSON (standard base64)."""
    return base64.b64encode(sign(model, data, size)).decode("ascii")


def is_genuine(model: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is exactly one issued for ``data`` by ``model``, byte for byte."""
    if len(signature) < MIN_BYTES:
        return False
    return hmac.compare_digest(sign(model, data, len(signature)), signature)
