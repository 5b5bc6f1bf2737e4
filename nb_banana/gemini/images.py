"""Notebook values -> image bytes the API accepts (PNG/JPEG/WebP, each under 5 MB).

One function per kind of input turns it into a Pillow image or into bytes that can go out
unchanged; ``_fit`` then picks the cheapest encoding that stays under the limit. Bytes that
are already an acceptable PNG/JPEG/WebP pass through untouched: no decode-and-re-encode of
what the user already has. Anything that cannot be made meaningful (a truncated file, NaN
pixels, a 2-channel array, a decompression bomb) is refused with the variable's name and the
reason, before any request is built.

numpy is never imported here: an array can only reach us if the notebook already did.
"""

from __future__ import annotations

import io
import math
import struct
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..errors import ImageInputError
from .models import MAX_INPUT_IMAGE_BYTES

# Formats the API takes as they are (Pillow's names), and the modes we send unchanged.
_SENDABLE = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_PLAIN_MODES = {"L", "RGB", "RGBA", "LA"}
# What Pillow's plugins raise on a damaged file: beyond OSError and SyntaxError they let
# struct, type, index and key errors from header parsing escape (found by fuzzing).
_DAMAGED = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
)
_JPEG_QUALITY = 90
# Leave room under the limit: an estimate that lands at 99 % would often end at 101 %.
_HEADROOM = 0.9
# Rows sampled to predict a PNG's size without encoding all of it.
_SAMPLE_BANDS, _BAND_ROWS = 16, 8
# A ``str`` ending in one of these that names an existing file is sent as that image.
IMAGE_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class EncodedImage:
    """Bytes ready for an ``inlineData`` part; ``note`` says what changed to make it fit."""

    data: bytes
    mime_type: str
    width: int
    height: int
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class NamedFile:
    """A notebook string that names an image file (``pic = "photos/cat.png"``): ``{pic}``
    sends the file's image, and the request says so in a note."""

    path: Path


def image_file(text: str) -> Path | None:
    """The image file ``text`` names, if it is one: an existing file, relative to the
    working folder or absolute, with an image extension. Anything else stays text."""
    if not text or len(text) > 4096 or "\n" in text or text != text.strip():
        return None
    path = Path(text)
    try:
        return path if path.suffix.lower() in IMAGE_FILE_SUFFIXES and path.is_file() else None
    except (OSError, ValueError):  # a name too long for the system, a NUL byte
        return None


def is_image_like(value: object) -> bool:
    """Whether ``{name}`` of this value means "send it as an image" rather than as text.

    Bytes and paths count even when broken, so that they are refused with a reason instead of
    being pasted into the prompt as text.
    """
    if isinstance(value, (list, tuple)):
        return bool(value) and all(is_image_like(item) for item in value)
    return (
        isinstance(value, (Image.Image, bytes, bytearray, memoryview, Path, NamedFile))
        or _is_ndarray(value)
        or _is_figure(value)
        or _result_outputs(value) is not None
        or _exposes_image(value)
    )


def encode_images(named: Sequence[tuple[str, object]]) -> list[list[EncodedImage]]:
    """Encode each ``(name, value)``; a list or tuple value gives several images.

    Work runs on a small thread pool: Pillow's encoders release the GIL, so several large
    references encode side by side.
    """
    groups = [_flatten(name, value) for name, value in named]
    jobs = [job for group in groups for job in group]
    if len(jobs) <= 1:
        encoded = iter([encode_image(item, label) for label, item in jobs])
    else:
        with ThreadPoolExecutor(max_workers=min(len(jobs), 4)) as pool:
            encoded = iter(list(pool.map(lambda job: encode_image(job[1], job[0]), jobs)))
    return [[next(encoded) for _ in group] for group in groups]


def encode_image(value: object, name: str, max_bytes: int = MAX_INPUT_IMAGE_BYTES) -> EncodedImage:
    """One image-like value -> bytes under ``max_bytes``; ``name`` goes into every refusal."""
    encoded = _encode_value(value, name, max_bytes)
    if encoded.note:
        return EncodedImage(**{**encoded.__dict__, "note": f"`{name}`: {encoded.note}."})
    return encoded


def _encode_value(value: object, name: str, max_bytes: int) -> EncodedImage:
    if _exposes_image(value):
        value = value._banana_image_()  # type: ignore[attr-defined]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(value), name, "bytes", max_bytes)
    if isinstance(value, Path):
        return _from_bytes(_read_path(value, name), name, f"file {value.name}", max_bytes)
    if isinstance(value, NamedFile):
        data = _read_path(value.path, name)
        encoded = _from_bytes(data, name, f"file {value.path.name}", max_bytes)
        said = f"names the image file {value.path}, so it is sent as that image"
        note = "; ".join(filter(None, [said, encoded.note]))
        return EncodedImage(**{**encoded.__dict__, "note": note})
    if _is_figure(value):
        return _from_bytes(_figure_png(value), name, "matplotlib figure", max_bytes)
    if isinstance(value, Image.Image):
        _check_pixels(value.width, value.height, name)
        _load(value, name, value.format or "image")
        return _fit(_plain(value, name), f"PIL {value.mode}", max_bytes)
    if _is_ndarray(value):
        image = _from_array(value, name)
        return _fit(image, f"array {value.dtype} {value.shape}", max_bytes)
    raise ImageInputError(name, f"holds a {type(value).__name__}, which is not an image.")


def _load(image: Image.Image, name: str, kind: str) -> None:
    """Decode now, so that a damaged file is refused here and not half-way through encoding."""
    try:
        image.load()
    except _DAMAGED as exc:
        raise _damaged(name, kind, exc) from None


def _damaged(name: str, kind: str, exc: BaseException) -> ImageInputError:
    return ImageInputError(
        name, f"is a damaged or truncated {kind} ({exc}); re-export it and try again."
    )


def _flatten(name: str, value: object) -> list[tuple[str, object]]:
    outputs = _result_outputs(value)
    if outputs is not None:
        value = [out.data for out in outputs]
        if not value:
            raise ImageInputError(name, "is a result with no images; pick one that has some.")
    if not isinstance(value, (list, tuple)):
        return [(name, value)]
    if not value:
        raise ImageInputError(name, "is an empty list; give at least one image.")
    return [pair for i, item in enumerate(value) for pair in _flatten(f"{name}[{i}]", item)]


def _result_outputs(value: object) -> list[Any] | None:
    """A previous ``Result`` stands for its images (so ``-i house`` just works)."""
    result = sys.modules.get("nb_banana.answer.result")
    if result is not None and isinstance(value, result.Result):
        return value.outputs
    return None


def _exposes_image(value: object) -> bool:
    """The protocol for objects that stand for a picture (``nb_banana.markup``'s widget):
    a ``_banana_image_()`` method returning an image value is sent as that image. Looked up
    on the type, so an object that answers every attribute (a mock) does not qualify."""
    return callable(getattr(type(value), "_banana_image_", None))


def _is_ndarray(value: object) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def _is_figure(value: object) -> bool:
    figure = sys.modules.get("matplotlib.figure")
    return figure is not None and isinstance(value, figure.Figure)


def _figure_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _read_path(path: Path, name: str) -> bytes:
    if path.is_dir():
        raise ImageInputError(
            name, f"{path} is a folder; give one file, or a list such as sorted(p.glob('*.png'))."
        )
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageInputError(name, f"{path} does not exist; check the path.") from None
    except OSError as exc:
        raise ImageInputError(name, f"{path} cannot be read ({exc.strerror}).") from None


def _check_pixels(width: int, height: int, name: str) -> None:
    """Refuse before decoding what would take gigabytes: Pillow's own bomb limit applies."""
    if width == 0 or height == 0:
        raise ImageInputError(name, f"is {width}×{height}: an image with no pixels.")
    if width * height > _limit():
        raise ImageInputError(name, _bomb(f"is {width}×{height} ({width * height / 1e6:.0f} MP)"))


def _limit() -> float:
    """Pillow's own bomb threshold, so a user who raised it for their files is obeyed here."""
    return Image.MAX_IMAGE_PIXELS or math.inf


def _bomb(size: str) -> str:
    return (
        f"{size}, more than the {_limit() / 1e6:.0f} MP that is safe to decode "
        "(a possible decompression bomb); downscale it first."
    )


def _from_bytes(data: bytes, name: str, source: str, max_bytes: int) -> EncodedImage:
    if not data:
        raise ImageInputError(name, f"is empty ({source} with 0 bytes); it holds no image.")
    image, frames = _open(data, name, source)
    kind = image.format or "image"
    if kind in _SENDABLE and image.mode in _PLAIN_MODES and len(data) <= max_bytes and frames == 1:
        return EncodedImage(data, _SENDABLE[kind], image.width, image.height, f"{kind} {source}")
    encoded = _fit(_plain(image, name), f"{kind} {source}", max_bytes)
    if frames == 1:
        return encoded
    note = "; ".join(filter(None, [f"sent the first of its {frames} frames", encoded.note]))
    return EncodedImage(**{**encoded.__dict__, "note": note})


def _open(data: bytes, name: str, source: str) -> tuple[Image.Image, int]:
    """Open, size-check and decode bytes; returns the image and its frame count.

    Pillow reports a damaged header from any of these steps, with whichever exception
    the failing plugin happens to raise, so all of them sit under one refusal.
    """
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageInputError(
            name, f"is not an image Pillow can read ({source}, {len(data)} bytes)."
        ) from None
    except Image.DecompressionBombError:
        raise ImageInputError(name, _bomb(f"is over {2 * _limit() / 1e6:.0f} MP")) from None
    except _DAMAGED as exc:
        raise _damaged(name, "image", exc) from None
    kind = image.format or "image"
    _check_pixels(image.width, image.height, name)
    try:
        frames = getattr(image, "n_frames", 1)
    except _DAMAGED as exc:
        raise _damaged(name, kind, exc) from None
    _load(image, name, kind)
    return image, frames


def _plain(image: Image.Image, name: str) -> Image.Image:
    """Any Pillow mode -> L, RGB or RGBA: what every target format can hold."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):
        return image
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode in ("LA", "La", "RGBa", "RGBX", "1"):
        return image.convert({"LA": "RGBA", "La": "RGBA", "RGBa": "RGBA"}.get(mode, "RGB"))
    if mode.startswith("I") or mode == "F":
        return _from_array(_pixels(image), name)
    try:
        return image.convert("RGB")
    except ValueError:
        raise ImageInputError(
            name, f"has Pillow mode {mode}, which cannot be converted to RGB; convert it first."
        ) from None


def _pixels(image: Image.Image) -> Any:
    import numpy

    values = numpy.asarray(image)
    # Pillow opens 16-bit PNG/TIFF as I;16 or I (int32): both mean 0..65535.
    if image.mode.startswith("I") and values.min() >= 0 and values.max() <= 65535:
        return values.astype(numpy.uint16)
    return values


def _from_array(array: Any, name: str) -> Image.Image:
    """An ndarray -> a Pillow image, refusing what has no single sensible meaning."""
    import numpy

    array = _channels_last(array, name)
    height, width = array.shape[:2]
    _check_pixels(width, height, name)
    array = numpy.ascontiguousarray(_to_uint8(array, name))
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[array.ndim if array.ndim == 2 else array.shape[2]]
    return Image.fromarray(array, mode)


def _channels_last(array: Any, name: str) -> Any:
    shape = tuple(array.shape)
    if array.ndim == 2:
        return array
    if array.ndim != 3:
        hint = " (a batch? pass list(arr) to send each image)" if array.ndim == 4 else ""
        raise ImageInputError(name, f"is an array of shape {shape}; images are H×W or H×W×C{hint}.")
    if shape[2] in (1, 3, 4):
        return array
    if shape[0] in (1, 3, 4) and shape[2] > 4:
        return array.transpose(1, 2, 0)
    raise ImageInputError(
        name,
        f"has {shape[2]} channels (shape {shape}); images have 1 (grey), 3 (RGB) or 4 (RGBA).",
    )


def _to_uint8(array: Any, name: str) -> Any:
    import numpy

    kind = array.dtype.kind
    if array.dtype == numpy.uint8:
        return array
    if kind == "b":
        raise ImageInputError(
            name, "is a bool array (a mask?); convert it, e.g. mask.astype('uint8') * 255."
        )
    if kind == "f":
        return _float_to_uint8(array, name)
    if array.dtype == numpy.uint16:
        return (array // 257).astype(numpy.uint8)
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high <= 255:
            return array.astype(numpy.uint8)
        raise ImageInputError(
            name,
            f"has {array.dtype} values from {low} to {high}; "
            "images need 0..255 (uint8) or 0..65535 (uint16).",
        )
    raise ImageInputError(name, f"is an array of {array.dtype}, which holds no pixel values.")


def _float_to_uint8(array: Any, name: str) -> Any:
    import numpy

    finite = numpy.isfinite(array)
    if not finite.all():
        bad = array.size - int(finite.sum())
        raise ImageInputError(
            name, f"has {bad} NaN or infinite values; replace them, e.g. numpy.nan_to_num(x)."
        )
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise ImageInputError(
            name,
            f"has float values from {low:.3g} to {high:.3g}; float images must lie in [0, 1] "
            "(divide by 255, or clip).",
        )
    return numpy.rint(array * 255).astype(numpy.uint8)


def _fit(image: Image.Image, source: str, max_bytes: int) -> EncodedImage:
    """Lossless PNG when it fits; else JPEG (opaque) or a downscaled PNG (transparent).

    The PNG size is predicted from a sample of rows first, so a photo that would make a
    40 MB PNG costs one JPEG encode, not a PNG encode thrown away.
    """
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")
    budget = int(max_bytes * _HEADROOM)
    predicted, data = _png_estimate(image, budget)
    if data is None and predicted <= budget:
        data = _encode(image, "PNG")
    if data is not None and len(data) <= max_bytes:
        return EncodedImage(data, "image/png", image.width, image.height, source)
    if image.mode == "RGBA":
        return _shrink(image, source, "PNG", budget, max_bytes, len(data or b"") or predicted)
    data = _encode(image, "JPEG")
    if len(data) <= max_bytes:
        note = f"too big for the API's 5 MB as PNG, sent as JPEG ({_mb(data)})"
        return EncodedImage(data, "image/jpeg", image.width, image.height, source, note)
    return _shrink(image, source, "JPEG", budget, max_bytes, len(data))


def _shrink(
    image: Image.Image, source: str, fmt: str, budget: int, max_bytes: int, size: int
) -> EncodedImage:
    """Downscale until the encoding fits; the first guess from the size ratio nearly always does."""
    scale = 1.0
    while True:
        scale *= min(0.9, math.sqrt(budget / size))
        width = max(1, round(image.width * scale))
        height = max(1, round(image.height * scale))
        smaller = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        data = _encode(smaller, fmt)
        if len(data) <= max_bytes or (width == 1 and height == 1):
            break
        size = round(len(data) / scale**2)
    note = (
        f"{image.width}×{image.height} is too big for the API's 5 MB, "
        f"downscaled to {width}×{height} {fmt} ({_mb(data)})"
    )
    return EncodedImage(data, f"image/{fmt.lower()}", width, height, source, note)


def _png_estimate(image: Image.Image, budget: int) -> tuple[int, bytes | None]:
    """The PNG's size, and its bytes when getting the size meant encoding all of it.

    Tall images encode evenly spaced bands of rows and scale up: a few per cent of a full
    encode. Small ones (raw size under the budget) cannot overflow and are encoded whole.
    """
    rows = _SAMPLE_BANDS * _BAND_ROWS
    raw = image.width * image.height * len(image.getbands())
    if raw <= budget or image.height <= rows * 4:
        data = _encode(image, "PNG")
        return len(data), data
    step = image.height // _SAMPLE_BANDS
    sample = Image.new(image.mode, (image.width, rows))
    for band in range(_SAMPLE_BANDS):
        top = band * step
        sample.paste(image.crop((0, top, image.width, top + _BAND_ROWS)), (0, band * _BAND_ROWS))
    return round(len(_encode(sample, "PNG")) * image.height / rows), None


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=1)
    else:
        image.save(buffer, "JPEG", quality=_JPEG_QUALITY)
    return buffer.getvalue()


def _mb(data: bytes) -> str:
    return f"{len(data) / 1e6:.1f} MB"
