"""Content Credentials (C2PA) in a picture: whether it carries them, and what they say.

Google puts a signed C2PA manifest in every picture its image models make (a JPEG's APP11
segments; a PNG's ``caBX`` chunk; a WebP's ``C2PA`` chunk). The manifest binds a hash of
the file's bytes, so the one way to keep it valid is to keep those bytes: nb_banana never
re-encodes or stamps a picture that carries one. Reading what the manifest says (who
signed it, that the picture is AI-made, whether the signature and hash still hold) is the
C2PA project's own reader, ``c2pa-python`` (the ``credentials`` extra); without it a
picture is still known to carry credentials, not what they say.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any

# IPTC's digital source types for a picture a trained model made, or a picture composited
# with one (an edit): what C2PA calls AI-made.
_AI_SOURCE_TYPES = ("trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia")
_NO_READER = "not verified: pip install c2pa-python to read them"


@dataclass(frozen=True)
class Credentials:
    """What a picture's Content Credentials say, as far as they could be read."""

    issuer: str  # the organisation that signed them ("Google LLC"), "" when unknown
    generator: str  # the claim generator's name, "" when unknown
    ai_made: bool | None  # the manifest says a trained model made it; None: not read
    state: str  # the C2PA reader's verdict ("valid", "trusted", "invalid"), or why none

    def line(self) -> str:
        """One line for captions and provenance: ``Content Credentials: signed by …``."""
        said = [f"signed by {self.issuer}" if self.issuer else "",
                "AI-made" if self.ai_made else "", self.state]  # fmt: skip
        return "Content Credentials: " + ", ".join(s for s in said if s)

    def to_doc(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "generator": self.generator, "ai_made": self.ai_made,
                "state": self.state}  # fmt: skip


def carries(data: bytes, mime_type: str) -> bool:
    """Whether the file holds a C2PA manifest: a look at its segments or chunks, no decoding."""
    if mime_type == "image/jpeg":
        return any(_is_c2pa_jumbf(body) for marker, body in _jpeg_segments(data) if marker == 0xEB)
    if mime_type == "image/png":
        return any(kind == b"caBX" for kind in _png_chunk_kinds(data))
    if mime_type == "image/webp":
        return b"C2PA" in _riff_chunk_kinds(data)
    return False


def read(data: bytes, mime_type: str) -> Credentials | None:
    """The picture's Content Credentials, or ``None`` when it carries none."""
    if not carries(data, mime_type):
        return None
    try:
        import c2pa  # the C2PA project's reader; an optional extra, loaded only here
    except ImportError:
        ai = any(kind.encode() in data.lower() for kind in _AI_SOURCE_TYPES)
        return Credentials("", "", ai or None, _NO_READER)
    try:
        reader = c2pa.Reader(mime_type, io.BytesIO(data))
        state = str(reader.get_validation_state() or "").lower()
        store = json.loads(reader.json())
    except Exception as exc:  # c2pa raises its own error types for a broken manifest
        return Credentials("", "", None, f"unreadable ({type(exc).__name__})")
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    return Credentials(
        issuer=(active.get("signature_info") or {}).get("issuer", ""),
        generator=_generator(active),
        ai_made=any(kind in json.dumps(active).lower() for kind in _AI_SOURCE_TYPES),
        state=state or "unknown",
    )


def _generator(manifest: dict[str, Any]) -> str:
    info = manifest.get("claim_generator_info") or []
    if info and isinstance(info[0], dict) and info[0].get("name"):
        return str(info[0]["name"])
    return str(manifest.get("claim_generator", ""))


def _is_c2pa_jumbf(body: bytes) -> bool:
    """An APP11 segment of JPEG XT boxes (``JP``) holding a JUMBF box labelled ``c2pa``."""
    return body[:2] == b"JP" and b"jumb" in body[:64] and b"c2pa" in body[:128]


def _jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """The marker segments before the image data (up to start-of-scan)."""
    segments, at = [], 2
    if data[:2] != b"\xff\xd8":
        return segments
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the entropy-coded picture follows
            break
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        segments.append((marker, data[at + 4 : at + 2 + length]))
        at += 2 + length
    return segments


def _png_chunk_kinds(data: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        kinds.append(kind)
        if kind == b"IEND":
            break
        at += 12 + length
    return kinds


def _riff_chunk_kinds(data: bytes) -> list[bytes]:
    kinds, at = [], 12
    while at + 8 <= len(data):
        kinds.append(data[at : at + 4])
        (length,) = struct.unpack("<I", data[at + 4 : at + 8])
        at += 8 + length + (length & 1)
    return kinds
