"""A stand-in for the Content Credentials Google puts into Nano Banana Pro's JPEGs.

Real Pro replies carry, right after the JFIF APP0 segment, an APP11 segment (5,990 bytes)
holding a JUMBF box with a C2PA manifest (../shared/REAL_REPLIES.md, "Pictures"). The
manifest binds a SHA-256 hash of the file's bytes with that segment left out ("hard
binding"), so re-encoding the picture or inserting a segment before it breaks the
credential. A client must keep the bytes as received; this stand-in makes that testable
offline: it has the real one's place, size and box structure, and a hash computed as
C2PA's data hash is, but its boxes hold JSON instead of CBOR and COSE, and nothing is
signed. docs/simulator.md ("Content Credentials stand-in") gives the byte layout, for the
client-side reader.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import uuid
from typing import Any

APP0 = 0xE0
APP11 = 0xEB
SEGMENT_BYTES = 5990  # the whole APP11 segment, marker included, as in a recorded Pro reply
CLAIM_GENERATOR = "Google C2PA Core Generator Library"
ISSUER = "Google LLC"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MANIFEST_STORE_LABEL = "c2pa"
HASH_ASSERTION_LABEL = "c2pa.hash.data"
ACTIONS_ASSERTION_LABEL = "c2pa.actions.v2"
CLAIM_LABEL = "c2pa.claim"
SIGNATURE_LABEL = "c2pa.signature"

# JUMBF description-box types: ISO 19566-5's 16-byte UUIDs, C2PA's for its boxes.
_JSON_TYPE = bytes.fromhex("6A736F6E00110010800000AA00389B71")  # "json" content
_MANIFEST_STORE_TYPE = bytes.fromhex("6332706100110010800000AA00389B71")  # "c2pa"
_MANIFEST_TYPE = bytes.fromhex("63326D6100110010800000AA00389B71")  # "c2ma"
_ASSERTION_STORE_TYPE = bytes.fromhex("6332617300110010800000AA00389B71")  # "c2as"
_CLAIM_TYPE = bytes.fromhex("6332636C00110010800000AA00389B71")  # "c2cl"
_SIGNATURE_TYPE = bytes.fromhex("6332637300110010800000AA00389B71")  # "c2cs"
_TOGGLES = 0x03  # requestable, label present
# An APP11 JUMBF segment's header after its length: common identifier "JP", box instance
# number 1, packet sequence number 1 (ISO 19566-5, as C2PA embeds it in JPEG).
_JPEG_XT_HEADER = b"JP" + struct.pack(">HI", 1, 1)
_PADDING_FIELD = "certificateChain"  # what fills the segment to its real size


def app0_end(jpeg: bytes) -> int:
    """Where the JFIF APP0 segment that follows SOI ends (just after SOI if there is none)."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG: it does not start with SOI (FF D8)")
    if len(jpeg) >= 6 and jpeg[2] == 0xFF and jpeg[3] == APP0:
        return 4 + struct.unpack(">H", jpeg[4:6])[0]
    return 2


def insert_after_app0(jpeg: bytes, segment: bytes) -> bytes:
    """``jpeg`` with ``segment`` (marker included) placed right after its APP0 segment."""
    at = app0_end(jpeg)
    return jpeg[:at] + segment + jpeg[at:]


def data_hash(jpeg: bytes, start: int, length: int) -> bytes:
    """SHA-256 of ``jpeg`` with the bytes ``[start, start + length)`` left out: C2PA's data
    hash with one exclusion (the manifest's own segment)."""
    return hashlib.sha256(jpeg[:start] + jpeg[start + length :]).digest()


def make_c2pa_segment(jpeg: bytes, start: int, size: int = SEGMENT_BYTES) -> bytes:
    """The APP11 segment (``size`` bytes, marker included) that binds ``jpeg`` once it is
    inserted at byte ``start``: its hash is ``jpeg``'s own, which is the final file's hash
    with the segment excluded."""
    digest = hashlib.sha256(jpeg).digest()
    instance = uuid.UUID(bytes=digest[:16], version=4)
    assertions = _superbox(
        _ASSERTION_STORE_TYPE,
        "c2pa.assertions",
        _json_box(
            HASH_ASSERTION_LABEL,
            {
                "alg": "sha256",
                "hash": base64.b64encode(digest).decode("ascii"),
                "exclusions": [{"start": start, "length": size}],
                "name": "jumbf manifest",
            },
        ),
        _json_box(
            ACTIONS_ASSERTION_LABEL,
            {
                "actions": [
                    {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}
                ]
            },
        ),
    )
    claim = _superbox(
        _CLAIM_TYPE,
        CLAIM_LABEL,
        _json_content(
            {
                "claim_generator": CLAIM_GENERATOR,
                "claim_generator_info": [{"name": CLAIM_GENERATOR}],
                "dc:format": "image/jpeg",
                "instanceID": f"xmp:iid:{instance}",
                "alg": "sha256",
                "signature": f"self#jumbf={SIGNATURE_LABEL}",
                "created_assertions": [
                    {"url": f"self#jumbf=c2pa.assertions/{HASH_ASSERTION_LABEL}"},
                    {"url": f"self#jumbf=c2pa.assertions/{ACTIONS_ASSERTION_LABEL}"},
                ],
                "standIn": "nb_banana simulator: JSON in place of CBOR, not signed",
            }
        ),
    )

    def whole(padding: str) -> bytes:
        signature = _superbox(
            _SIGNATURE_TYPE,
            SIGNATURE_LABEL,
            _json_content({"alg": "es256", "issuer": ISSUER, _PADDING_FIELD: padding}),
        )
        manifest = _superbox(_MANIFEST_TYPE, f"urn:c2pa:{instance}", assertions, claim, signature)
        store = _superbox(_MANIFEST_STORE_TYPE, MANIFEST_STORE_LABEL, manifest)
        body = _JPEG_XT_HEADER + store
        return b"\xff" + bytes([APP11]) + struct.pack(">H", len(body) + 2) + body

    short = len(whole(""))
    if short > size:
        raise ValueError(f"a segment of {size} bytes cannot hold the manifest ({short} bytes)")
    return whole(_padding(digest, size - short))


def with_content_credentials(jpeg: bytes) -> bytes:
    """``jpeg`` as a Pro reply carries it: the stand-in segment right after APP0."""
    return insert_after_app0(jpeg, make_c2pa_segment(jpeg, app0_end(jpeg)))


def _padding(seed: bytes, chars: int) -> str:
    """``chars`` base64 characters drawn from ``seed``: the bulk a real certificate chain has."""
    raw = hashlib.shake_256(seed).digest(chars)
    return base64.b64encode(raw).decode("ascii")[:chars]


def _box(box_type: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + box_type + payload


def _description(content_type: bytes, label: str) -> bytes:
    return _box(b"jumd", content_type + bytes([_TOGGLES]) + label.encode() + b"\0")


def _superbox(content_type: bytes, label: str, *children: bytes) -> bytes:
    return _box(b"jumb", _description(content_type, label) + b"".join(children))


def _json_content(value: dict[str, Any]) -> bytes:
    return _box(b"json", json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def _json_box(label: str, value: dict[str, Any]) -> bytes:
    return _superbox(_JSON_TYPE, label, _json_content(value))
