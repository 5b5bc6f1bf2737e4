"""Small PNG thumbnails, so strips and the timeline never ship full-size pictures to the page."""

from __future__ import annotations

import io

from PIL import Image

THUMB_PX = 96
# Modes PNG stores as they are; anything else (CMYK, I;16, F...) is converted explicitly.
_PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA")


def thumbnail(data: bytes, px: int = THUMB_PX) -> bytes:
    """Encoded image bytes -> a PNG at most ``px`` on its longest side.

    Bytes that are not an image raise ``PIL.UnidentifiedImageError`` (an ``OSError``);
    callers turn it into the panel's one-line message.
    """
    with Image.open(io.BytesIO(data)) as img:
        img.thumbnail((px, px))
        small = img if img.mode in _PNG_MODES else img.convert("RGBA")
        buffer = io.BytesIO()
        small.save(buffer, format="PNG")
    return buffer.getvalue()
