"""Thought signatures the simulator issues, and the check that one sent back is genuine.

A real signature is opaque and only the API can tell a good one from a bad one; what a
client must do is send it back unchanged, on the same part, with the same bytes. The
simulator makes that testable: a signature is an HMAC over the model id and the exact
bytes of the part it sits on (the decoded image, or the UTF-8 text), so re-encoding an
image, editing a text, moving a signature to another part or replaying it to another model
all turn it into a "Corrupted thought signature." The key is fixed rather than random so
that replies, and histories saved by a notebook, stay valid across processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_KEY = b"nb_banana simulator thought signatures: for tests only, not a secret"
_PREFIX = b"nbsim1:"


def sign(model: str, data: bytes) -> bytes:
    """The signature the simulator puts on a part of ``model``'s reply holding ``data``."""
    digest = hmac.new(_KEY, model.encode() + b"\0" + data, hashlib.sha256).digest()
    return _PREFIX + digest


def sign_b64(model: str, data: bytes) -> str:
    """``sign`` as the API writes it in JSON (standard base64)."""
    return base64.b64encode(sign(model, data)).decode("ascii")


def is_genuine(model: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is exactly the one issued for ``data`` by ``model``."""
    return hmac.compare_digest(sign(model, data), signature)
