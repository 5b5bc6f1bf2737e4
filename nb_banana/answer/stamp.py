"""Provenance stamps: how a picture was made, written into the image file itself and read back.

PNG files get an ``iTXt`` chunk named ``nb_banana`` inserted after the header, so the
image data stays byte-for-byte as the model sent it. A picture converted to JPEG or WebP
gets the same JSON in the EXIF ImageDescription tag (ASCII-escaped, as EXIF requires).
A file kept exactly as Google sent it (a JPEG in its own format, any picture carrying
Content Credentials, whose signature binds the file's bytes) is left untouched, and its
provenance is found in the store by the file's hash instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from . import credentials

KEYWORD = "nb_banana"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IMAGE_DESCRIPTION = 0x010E


def png_with_provenance(png: bytes, info: dict[str, Any]) -> bytes:
    """Insert an iTXt chunk after IHDR; everything else is left exactly as it was."""
    if not png.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    ihdr_end = len(_PNG_SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    text = json.dumps(info, ensure_ascii=False).encode()
    body = KEYWORD.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + text
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"iTXt" + body) & 0xFFFFFFFF)
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def exif_with_provenance(info: dict[str, Any]) -> Image.Exif:
    exif = Image.Exif()
    exif[_IMAGE_DESCRIPTION] = json.dumps({KEYWORD: info}, ensure_ascii=True)
    return exif


def provenance(
    path: str | Path, find: Callable[[str], dict[str, Any] | None] | None = None
) -> dict[str, Any] | None:
    """The prompt, model and settings saved with an image by nb_banana, or ``None``.

    A file kept byte for byte as Google sent it (its Content Credentials bind those bytes,
    so nothing was written into it) is found by ``find``, given the file's SHA-256: the
    store that made it. What the file's Content Credentials say is added under
    ``content_credentials``.
    """
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        info = _embedded(img)
        mime_type = img.get_format_mimetype() or ""
    if info is None and find is not None:
        info = find(hashlib.sha256(data).hexdigest())
    if (found := credentials.read(data, mime_type)) is not None:
        info = {**(info or {}), "content_credentials": found.to_doc()}
    return info


def _embedded(img: Image.Image) -> dict[str, Any] | None:
    text = getattr(img, "text", {}).get(KEYWORD) if img.format == "PNG" else None
    if text:
        return json.loads(text)
    description = img.getexif().get(_IMAGE_DESCRIPTION)
    if not description:
        return None
    try:
        return json.loads(description).get(KEYWORD)
    except (ValueError, AttributeError):
        return None
