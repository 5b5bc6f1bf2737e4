"""The simulator's pictures: deterministic PNGs (JPEGs for Pro) that show what was asked.

A simulated image must make a notebook's behaviour visible without a model: its colours
come from a hash of the prompt (so two prompts look different and one prompt always looks
the same), it spells out the prompt, the model, aspect, size and turn, it is unmistakably
marked SIMULATED and names its model under that mark (so a comparison's rows tell
themselves apart offline), it shows the reference images it was given (so an edit visibly
uses them), and a follow-up turn without new images is drawn over the previous picture and
shows it as a thumbnail (so a chat visibly continues). Rendering stays fast even at 4K:
the gradient is computed small and scaled up, and PNG is written with the fastest
compression. Which models answer in JPEG is ``REPLY_MIME``; the Content Credentials a
JPEG reply carries are added by ``credentials``.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ..gemini.models import UnknownModel, resolve_model

_GRADIENT_STEP = 16  # the gradient is computed at 1/16 of the size, then scaled up
_MAX_PROMPT_LINES = 6
# More than fits in six lines at any size or ratio; wrapping a 100k-character prompt whole
# took minutes, long past any client's timeout.
_MAX_PROMPT_CHARS = 2000
_PANEL_DIMMING = 0.7  # how much the panel behind the prompt darkens the picture
_PREVIOUS_WEIGHT = 0.5  # how much of the previous picture shows through on a follow-up turn
_JPEG_QUALITY = 90
PNG = "image/png"
JPEG = "image/jpeg"
# The format each model's replies come in. Nano Banana Pro answered JPEG in every recorded
# reply (../shared/REAL_REPLIES.md, "Pictures"); 2.5 Flash Image answered PNG; what Nano
# Banana 2 and Lite send is not recorded, so they keep PNG (guess 44 in docs/simulator.md).
REPLY_MIME: dict[str, str] = {resolve_model("pro").id: JPEG}


@dataclass(frozen=True)
class Scene:
    """Everything a simulated picture shows; equal scenes give byte-identical PNGs."""

    width: int
    height: int
    prompt: str
    label: str  # "model · aspect · size · turn N"
    inputs: tuple[bytes, ...] = ()
    previous: bytes | None = None
    variant: int = 1  # which take of the same request: each has its own colours


def render_png(scene: Scene) -> bytes:
    """The scene as PNG bytes."""
    out = io.BytesIO()
    _draw(scene).save(out, "PNG", compress_level=1)
    return out.getvalue()


def render_jpeg(scene: Scene) -> bytes:
    """The scene as a baseline JFIF JPEG (APP0 first, as the real service's start)."""
    out = io.BytesIO()
    _draw(scene).save(out, "JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()


def render(scene: Scene, mime_type: str) -> bytes:
    """The scene in the format a reply of ``mime_type`` carries (``REPLY_MIME``).

    Equal scenes draw byte-identical pictures, so one drawn lately is handed out again
    (``_Drawn``): drawing a 1K picture costs ~30 ms of CPU on the machine the client runs
    on, where Google's servers cost it nothing, and a test, a demo or the bench that asks
    the same thing twice need not pay it twice.
    """
    key = (scene, mime_type)
    picture = _DRAWN.get(key)
    if picture is None:
        picture = render_jpeg(scene) if mime_type == JPEG else render_png(scene)
        _DRAWN.put(key, picture)
    return picture


class _Drawn:
    """The pictures drawn lately, least recently used first out, at most ``limit`` bytes
    (a scene's own pictures, which its key holds, counted with the one drawn from them)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pictures: OrderedDict[tuple[Scene, str], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Scene, str]) -> bytes | None:
        with self._lock:
            picture = self._pictures.get(key)
            if picture is not None:
                self._pictures.move_to_end(key)
            return picture

    def put(self, key: tuple[Scene, str], picture: bytes) -> None:
        size = _weight(key, picture)
        with self._lock:
            if key in self._pictures or size > self.limit:
                return
            self._pictures[key] = picture
            self._bytes += size
            while self._bytes > self.limit:
                dropped = self._pictures.popitem(last=False)
                self._bytes -= _weight(*dropped)


def _weight(key: tuple[Scene, str], picture: bytes) -> int:
    scene = key[0]
    return len(picture) + sum(map(len, scene.inputs)) + len(scene.previous or b"")


_DRAWN = _Drawn(64 * 1024 * 1024)


def reply_mime(model_id: str) -> str:
    """The format ``model_id`` answers in: JPEG for Pro (recorded), PNG for the others."""
    return REPLY_MIME.get(model_id, PNG)


def _draw(scene: Scene) -> Image.Image:
    image = _background(scene)
    draw = ImageDraw.Draw(image)
    unit = min(scene.width, scene.height)
    margin = max(8, unit // 32)
    badge_bottom = _draw_badge(draw, margin, unit)
    badge_bottom = _draw_model(draw, _model_name(scene.label), margin, badge_bottom, unit)
    label_top = _draw_label(draw, scene, margin, unit)
    # A follow-up without new references shows what it builds on: the previous picture.
    shown = scene.inputs or ((scene.previous,) if scene.previous else ())
    thumbs_top = _paste_inputs(image, shown, margin, label_top, unit)
    _draw_prompt(image, scene, margin, badge_bottom, thumbs_top, unit)
    return image


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def _palette(prompt: str) -> tuple[tuple[int, int, int], tuple[int, int, int], float]:
    """Two colours and a gradient angle, all from the prompt's hash."""
    digest = hashlib.sha256(prompt.encode()).digest()
    hue = digest[0] / 255
    colour_a = _rgb(hue, 0.55 + digest[2] / 255 * 0.3, 0.75)
    colour_b = _rgb((hue + 0.25 + digest[1] / 255 * 0.3) % 1.0, 0.6, 0.35 + digest[3] / 255 * 0.2)
    return colour_a, colour_b, digest[4] / 255 * np.pi


def _background(scene: Scene) -> Image.Image:
    seed = scene.prompt if scene.variant == 1 else f"{scene.prompt}\0take {scene.variant}"
    colour_a, colour_b, angle = _palette(seed)
    small_w = max(2, scene.width // _GRADIENT_STEP)
    small_h = max(2, scene.height // _GRADIENT_STEP)
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    xs /= small_w - 1
    ys /= small_h - 1
    t = xs * np.cos(angle) + ys * np.sin(angle)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    glow = np.exp(-(((xs - 0.7) ** 2 + (ys - 0.3) ** 2) * 6.0))
    a, b = np.array(colour_a, np.float32), np.array(colour_b, np.float32)
    pixels = a * (1 - t[..., None]) + b * t[..., None] + 60.0 * glow[..., None]
    small = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    previous = _decode(scene.previous)
    if previous is None:
        return small.resize((scene.width, scene.height), Image.Resampling.BILINEAR)
    # Blend at the previous picture's own resolution and scale up once: far cheaper at 4K.
    scale = min(1.0, max(previous.width / scene.width, previous.height / scene.height))
    base = (round(scene.width * scale), round(scene.height * scale))
    fitted = ImageOps.fit(previous, base, Image.Resampling.BILINEAR)
    blended = Image.blend(small.resize(base, Image.Resampling.BILINEAR), fitted, _PREVIOUS_WEIGHT)
    return blended.resize((scene.width, scene.height), Image.Resampling.BILINEAR)


def _decode(data: bytes | None) -> Image.Image | None:
    """An RGB picture from image bytes; ``None`` if there are none or they do not decode."""
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (1024, 1024))
            return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, Image.DecompressionBombError):
        return None


def _font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font (Pillow >= 10.1 with FreeType, as nb_banana requires)."""
    font = ImageFont.load_default(size=max(10, size))
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("the simulator needs Pillow >= 10.1 built with FreeType")
    return font


def _draw_badge(draw: ImageDraw.ImageDraw, margin: int, unit: int) -> int:
    """The red SIMULATED mark in the top-left corner; returns its bottom edge."""
    font = _font(unit // 18)
    left, top, right, bottom = draw.textbbox((0, 0), "SIMULATED", font=font)
    pad = max(4, unit // 80)
    box = (margin, margin, margin + right - left + 2 * pad, margin + bottom - top + 2 * pad)
    draw.rectangle(box, fill=(200, 30, 40), outline=(255, 255, 255), width=max(2, pad // 3))
    draw.text((margin + pad - left, margin + pad - top), "SIMULATED", font=font, fill="white")
    return box[3]


def _model_name(label: str) -> str:
    """The label's first field is the model's id (``replies._scene``): the table's name for
    it (``Nano Banana Pro``), else the id as sent."""
    model_id = label.split(" · ", 1)[0].strip()
    try:
        return resolve_model(model_id).name
    except UnknownModel:
        return model_id


def _draw_model(draw: ImageDraw.ImageDraw, name: str, margin: int, top: int, unit: int) -> int:
    """The model's name on a dark tab under the badge; returns its bottom edge."""
    if not name:
        return top
    font = _font(unit // 22)
    left, text_top, right, bottom = draw.textbbox((0, 0), name, font=font)
    pad = max(3, unit // 100)
    box = (margin, top + pad, margin + right - left + 2 * pad, top + bottom - text_top + 3 * pad)
    draw.rectangle(box, fill=(25, 25, 25))
    draw.text((margin + pad - left, box[1] + pad - text_top), name, font=font, fill="white")
    return box[3]


def _draw_label(draw: ImageDraw.ImageDraw, scene: Scene, margin: int, unit: int) -> int:
    """The model · aspect · size · turn line along the bottom; returns its top edge."""
    font = _font(unit // 36)
    left, top, _, bottom = draw.textbbox((0, 0), scene.label, font=font)
    y = scene.height - margin - (bottom - top)
    draw.text(
        (margin - left, y - top),
        scene.label,
        font=font,
        fill="white",
        stroke_width=max(1, unit // 400),
        stroke_fill="black",
    )
    return y


def _paste_inputs(
    image: Image.Image, inputs: Sequence[bytes], margin: int, bottom: int, unit: int
) -> int:
    """The reference images as framed thumbnails in a grid above the label; returns its top."""
    pictures = [p for p in (_decode(data) for data in inputs) if p is not None]
    if not pictures:
        return bottom
    gap = max(4, unit // 100)
    cell, columns = _grid(
        len(pictures), image.width - 2 * margin + gap, min(unit // 4, image.height * 2 // 5) + gap
    )
    rows = math.ceil(len(pictures) / columns)
    border = max(2, gap // 2)
    side = max(8, cell - gap - 2 * border)
    top = bottom - rows * cell
    for i, picture in enumerate(pictures):
        thumb = ImageOps.contain(picture, (side, side), Image.Resampling.BILINEAR)
        frame = ImageOps.expand(thumb, border=border, fill="white")
        row, column = divmod(i, columns)
        image.paste(frame, (margin + column * cell, top + row * cell + (side - thumb.height) // 2))
    return top


def _grid(count: int, width: int, height: int) -> tuple[int, int]:
    """The largest square cell, and the columns, that fit ``count`` cells in width x height."""
    layouts = []
    for rows in range(1, count + 1):
        columns = math.ceil(count / rows)
        layouts.append((min(width // columns, height // rows), columns))
    return max(layouts)


def _draw_prompt(
    image: Image.Image, scene: Scene, margin: int, top: int, bottom: int, unit: int
) -> None:
    """The prompt, wrapped and centred between the badge and the thumbnails, on a dim panel."""
    text = " ".join(scene.prompt.split())[:_MAX_PROMPT_CHARS]
    font = _font(unit // 16)
    lines = _wrap(text or "(no text prompt)", font, scene.width - 4 * margin)
    if len(lines) > _MAX_PROMPT_LINES:
        lines = [*lines[: _MAX_PROMPT_LINES - 1], lines[_MAX_PROMPT_LINES - 1][:-1] + "…"]
    block = "\n".join(lines)
    draw = ImageDraw.Draw(image)
    spacing = int(font.size) // 4
    left, box_top, right, box_bottom = (
        round(edge)
        for edge in draw.multiline_textbbox(
            (0, 0), block, font=font, spacing=spacing, align="center"
        )
    )
    x = (scene.width - (right - left)) // 2 - left
    y = top + max(margin, (bottom - top - (box_bottom - box_top)) // 2) - box_top
    panel = (x + left - margin, y + box_top - margin, x + right + margin, y + box_bottom + margin)
    region = image.crop(panel)
    image.paste(Image.blend(region, Image.new("RGB", region.size), _PANEL_DIMMING), panel[:2])
    draw.multiline_text(
        (x, y),
        block,
        font=font,
        fill="white",
        spacing=spacing,
        align="center",
        stroke_width=max(2, unit // 300),
        stroke_fill="black",
    )


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of whole words that fit ``width`` pixels; a word too long for a line is cut."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > width and len(word) > 1:
            cut = max(1, int(len(word) * width / font.getlength(word)))
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    return [*lines, line] if line else lines
