"""Screen-sized previews, so a notebook carries ~100 KB per picture instead of a full PNG.

The display shows the preview; ``Result.images``, ``--save`` and the store keep the
original bytes as received.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

# Below this a reply's own bytes are already light enough to embed as they are.
_SMALL_ENOUGH = 160_000
_QUALITY = 85


@dataclass(frozen=True)
class Preview:
    data: bytes
    mime_type: str
    width: int
    height: int
    # A small JPEG for a contact sheet, when one was asked for: made from the pixels the
    # preview had decoded anyway, not by decoding the picture (or the preview) again.
    thumb: bytes | None = None


def make_preview(data: bytes, mime_type: str, max_px: int, thumb_px: int | None = None) -> Preview:
    """Downscale to ``max_px`` on the longest side and re-encode (JPEG, WebP with alpha);
    with ``thumb_px``, a thumbnail of that size too (``thumbnail``'s)."""
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        if len(data) <= _SMALL_ENOUGH and max(width, height) <= max_px:
            thumb = _thumbnail_of(img, thumb_px) if thumb_px else None
            return Preview(data, mime_type, width, height, thumb)
        if img.format == "JPEG" and max(width, height) > max_px:
            # A JPEG decodes at 1/2, 1/4 or 1/8 scale for the asking (Pro answers in JPEG):
            # no larger than the preview needs, at a fraction of the cost.
            scale = max(width, height) / max_px
            img.draft("RGB", (int(width / scale), int(height / scale)))
        factor = max(1, -(-max(img.size) // max_px))
        small = img.reduce(factor) if factor > 1 else img.copy()
    if max(small.size) > max_px:
        small.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if small.mode in ("RGBA", "LA", "P"):
        small.save(buffer, format="WEBP", quality=_QUALITY, method=0)
        mime = "image/webp"
    else:
        # Progressive: the same pixels in ~15-20 % fewer bytes than baseline JPEG (its
        # entropy coding is tuned per image), for ~5 ms more per screen-sized preview.
        small.convert("RGB").save(buffer, format="JPEG", quality=_QUALITY, progressive=True)
        mime = "image/jpeg"
    size = small.size  # before the thumbnail shrinks ``small`` in place
    thumb = _thumbnail_of(small, thumb_px) if thumb_px else None
    return Preview(buffer.getvalue(), mime, *size, thumb)


def make_previews(
    images: list[tuple[bytes, str]], max_px: int, thumb_px: int | None = None
) -> list[Preview]:
    """Several at once: Pillow releases the GIL while decoding and encoding."""
    if len(images) == 1:
        return [make_preview(*images[0], max_px, thumb_px)]
    with ThreadPoolExecutor(max_workers=min(4, len(images))) as pool:
        return list(pool.map(lambda item: make_preview(*item, max_px, thumb_px), images))


def thumbnail(data: bytes, px: int = 192) -> bytes:
    """A small JPEG, for listings and the panel's reference chips."""
    with Image.open(io.BytesIO(data)) as img:
        return _thumbnail_of(img, px)


def _thumbnail_of(img: Image.Image, px: int) -> bytes:
    """``img`` shrunk in place to ``px`` on its longest side, as a JPEG (a JPEG file not yet
    decoded is decoded at the smallest scale that is still large enough)."""
    img.thumbnail((px, px))
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def thumbnail_b64(data: bytes, px: int = 192) -> str:
    """``thumbnail`` as base64, for listings' HTML (history, chats, timelines)."""
    import base64

    return base64.b64encode(thumbnail(data, px)).decode()
