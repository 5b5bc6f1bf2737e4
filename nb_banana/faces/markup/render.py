"""Marks -> the marked-up picture, drawn with Pillow at the original's full resolution.

This is the picture that is sent, so it is made here, in the kernel, from the marks alone:
the same marks always give the same pixels, whatever the browser showed. ``widget.js``
draws the same shapes on its screen-sized canvas as a preview (keep the two alike).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

from PIL import Image, ImageColor, ImageDraw, ImageFont

from .marks import PALETTE, Mark, Metrics

# Modes a colour can be drawn on; grey pictures get colour, transparency is kept.
_DRAWABLE = {"L": "RGB", "LA": "RGBA", "RGB": "RGB", "RGBA": "RGBA"}
Box = tuple[float, float, float, float]


def render(original: Image.Image, marks: Sequence[Mark], metrics: Metrics) -> Image.Image:
    """A new image with ``marks`` drawn over ``original`` (which is left as it was)."""
    picture = original.convert(_DRAWABLE.get(original.mode, "RGB"))  # always a copy
    draw = ImageDraw.Draw(picture)
    for mark in marks:
        _DRAW[mark.kind](draw, mark, metrics)
    return picture


def _pen(draw: ImageDraw.ImageDraw, mark: Mark, m: Metrics) -> None:
    fill = _rgb(mark.color)
    if len(mark.points) > 1:
        draw.line(mark.points, fill=fill, width=m.line, joint="curve")
    for point in {mark.points[0], mark.points[-1]}:
        _dot(draw, point, m.line, fill)


def _rect(draw: ImageDraw.ImageDraw, mark: Mark, m: Metrics) -> None:
    draw.rectangle(_around(mark, m), outline=_rgb(mark.color), width=m.line)


def _ellipse(draw: ImageDraw.ImageDraw, mark: Mark, m: Metrics) -> None:
    draw.ellipse(_around(mark, m), outline=_rgb(mark.color), width=m.line)


def _arrow(draw: ImageDraw.ImageDraw, mark: Mark, m: Metrics) -> None:
    """A shaft from the tail to the head's base, and a filled head whose point is the tip
    (so the arrow ends exactly where it was dragged to)."""
    fill = _rgb(mark.color)
    (x0, y0), (x1, y1) = mark.points
    length = math.hypot(x1 - x0, y1 - y0)
    if length == 0:
        _dot(draw, (x0, y0), m.line, fill)
        return
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    head = min(m.head, length)
    bx, by = x1 - ux * head, y1 - uy * head
    half = head / 2
    draw.line([(x0, y0), (bx, by)], fill=fill, width=m.line)
    _dot(draw, (x0, y0), m.line, fill)
    draw.polygon([(x1, y1), (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)],
                 fill=fill)  # fmt: skip


def _text(draw: ImageDraw.ImageDraw, mark: Mark, m: Metrics) -> None:
    """The label starts at its point, centred on it vertically, edged so it reads anywhere."""
    fill, edge = (ImageColor.getrgb(c) for c in PALETTE[mark.color])
    draw.text(
        mark.points[0], mark.text, fill=fill, font=label_font(m.font), anchor="lm",
        stroke_width=m.outline, stroke_fill=edge,
    )  # fmt: skip


@functools.lru_cache(maxsize=8)
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels: the same on every machine, no font files."""
    return ImageFont.load_default(size)


def _around(mark: Mark, m: Metrics) -> Box:
    """The box through the two points, grown by half a line: the stroke is centred on the
    outline the user dragged, as the browser's canvas draws it."""
    (x0, y0), (x1, y1) = mark.points
    grow = m.line // 2
    return min(x0, x1) - grow, min(y0, y1) - grow, max(x0, x1) + grow, max(y0, y1) + grow


def _dot(draw: ImageDraw.ImageDraw, point: tuple[float, float], width: int, fill: tuple) -> None:
    """A round end (or a single click of the pen): a disc as wide as the line."""
    x, y = point
    r = (width - 1) / 2
    draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _rgb(color: str) -> tuple[int, ...]:
    return ImageColor.getrgb(PALETTE[color][0])


_DRAW: dict[str, Callable[[ImageDraw.ImageDraw, Mark, Metrics], None]] = {
    "pen": _pen,
    "rect": _rect,
    "ellipse": _ellipse,
    "arrow": _arrow,
    "text": _text,
}
