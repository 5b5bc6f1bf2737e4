"""Every kind of notebook value a user may call an image: converted, or refused with a reason."""

from __future__ import annotations

import base64
import io
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from IPython.utils.capture import capture_output
from PIL import Image

from nb_banana.errors import ImageInputError
from nb_banana.gemini.images import EncodedImage, encode_image, encode_images, is_image_like
from nb_banana.gemini.models import MAX_INPUT_IMAGE_BYTES

from .test_errors import fails

SENDABLE = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


def sent(encoded: EncodedImage) -> Image.Image:
    """What the API would decode: the bytes must be a valid image of the stated type and size."""
    assert len(encoded.data) <= MAX_INPUT_IMAGE_BYTES
    image = Image.open(io.BytesIO(encoded.data))
    image.load()
    assert SENDABLE[encoded.mime_type] == image.format
    assert (image.width, image.height) == (encoded.width, encoded.height)
    assert image.mode in {"L", "RGB", "RGBA", "LA"}
    return image


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def refused(value: object, *reason_parts: str) -> str:
    with pytest.raises(ImageInputError) as info:
        encode_image(value, "pic")
    message = str(info.value)
    assert message.startswith("`pic`: ")
    assert "\n" not in message
    for part in reason_parts:
        assert part in message
    return message


# Pass-through: what the user already has goes out byte for byte.


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_sendable_bytes_go_out_unchanged(fmt):
    data = saved(Image.new("RGB", (40, 30), "teal"), fmt)
    encoded = encode_image(data, "pic")
    assert encoded.data == data
    assert encoded.mime_type == f"image/{fmt.lower()}"
    assert (encoded.width, encoded.height) == (40, 30)
    assert encoded.note == ""


def test_a_path_to_a_png_reads_the_file(tmp_path):
    path = tmp_path / "ref.png"
    path.write_bytes(png_bytes(Image.new("RGB", (12, 9), "red")))
    encoded = encode_image(path, "pic")
    assert encoded.data == path.read_bytes()


# Conversions: formats and modes the API may not take become PNG/JPEG.


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_converted(fmt):
    encoded = encode_image(saved(Image.new("RGB", (20, 10), "orange"), fmt), "pic")
    image = sent(encoded)
    assert image.getpixel((5, 5))[:3] == pytest.approx((255, 165, 0), abs=3)


def test_animated_gif_sends_its_first_frame_and_says_so():
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    encoded = encode_image(buffer.getvalue(), "anim")
    assert sent(encoded).convert("RGB").getpixel((0, 0)) == (255, 0, 0)
    assert encoded.note == "`anim`: sent the first of its 3 frames."


def test_cmyk_jpeg_is_converted_to_rgb():
    data = saved(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), "JPEG")
    image = sent(encode_image(data, "pic"))
    assert image.mode == "RGB"
    assert image.getpixel((5, 5))[0] > 200 and image.getpixel((5, 5))[1] < 60


def test_sixteen_bit_png_keeps_its_brightness():
    grey = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    image = sent(encode_image(png_bytes(grey), "pic"))
    assert image.getpixel((0, 0)) in (127, 128)


def test_palette_with_transparency_keeps_the_alpha():
    palette = Image.new("P", (10, 10), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.putpixel((0, 0), 0)
    data = png_bytes(palette, transparency=0)
    image = sent(encode_image(data, "pic"))
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((5, 5)) == (255, 0, 0, 255)


@pytest.mark.parametrize(
    ("mode", "colour", "expected_mode"),
    [("RGBA", (1, 2, 3, 4), "RGBA"), ("LA", (9, 100), "RGBA"), ("1", 1, "RGB"), ("L", 7, "L")],
)
def test_pil_modes(mode, colour, expected_mode):
    image = sent(encode_image(Image.new(mode, (6, 4), colour), "pic"))
    assert image.mode == expected_mode


def test_opaque_rgba_loses_only_the_useless_alpha():
    image = sent(encode_image(Image.new("RGBA", (6, 4), (1, 2, 3, 255)), "pic"))
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (1, 2, 3)


@pytest.mark.parametrize(
    ("array", "pixel"),
    [
        (np.full((4, 5), 200, np.uint8), 200),
        (np.full((4, 5, 3), (1, 2, 3), np.uint8), (1, 2, 3)),
        (np.full((4, 5, 1), 9, np.uint8), 9),
        (np.full((4, 5), 0.5, np.float32), 128),
        (np.full((4, 5, 3), 1.0, np.float64), (255, 255, 255)),
        (np.full((4, 5), 65535, np.uint16), 255),
        (np.full((4, 5), 17, np.int64), 17),
        (np.full((3, 4, 5), 0.0), (0, 0, 0)),  # channel-first, as torch and JAX keep them
    ],
)
def test_arrays(array, pixel):
    image = sent(encode_image(array, "pic"))
    assert (image.width, image.height) == (5, 4)
    assert image.getpixel((0, 0)) == pixel


def test_rgba_array_keeps_transparency():
    array = np.zeros((4, 4, 4), np.uint8)
    array[..., 3] = 10
    assert sent(encode_image(array, "pic")).getpixel((0, 0)) == (0, 0, 0, 10)


def test_non_contiguous_slice_is_sent_as_seen():
    base = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    view = base[::2, ::3]
    assert not view.flags.c_contiguous
    image = sent(encode_image(view, "pic"))
    assert np.array_equal(np.asarray(image), view)


def test_matplotlib_figure_is_rendered():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1), dpi=50)
    figure.add_subplot().plot([0, 1], [1, 0])
    image = sent(encode_image(figure, "plot"))
    assert image.size == (100, 50)


def test_a_previous_result_stands_for_its_images(sim):
    import nb_banana

    result = nb_banana.generate("a red roof", n=2)
    encoded = encode_images([("house", result)])[0]
    assert [e.data for e in encoded] == [out.data for out in result.outputs]


def test_lists_keep_their_order_and_name_each_item():
    colours = ["red", "green", "blue"]
    encoded = encode_images([("refs", [Image.new("RGB", (4, 4), c) for c in colours])])[0]
    assert [sent(e).getpixel((0, 0)) for e in encoded] == [(255, 0, 0), (0, 128, 0), (0, 0, 255)]
    with pytest.raises(ImageInputError, match=r"^`refs\[1\]`: is empty"):
        encode_images([("refs", [Image.new("RGB", (4, 4)), b""])])


# Size: everything goes out under the API's 5 MB, saying what was done to get there.


@pytest.fixture(scope="module")
def noise_png_20mb() -> bytes:
    rng = np.random.default_rng(7)
    data = png_bytes(Image.fromarray(rng.integers(0, 256, (2600, 2600, 3), np.uint8)))
    assert len(data) > 20_000_000
    return data


def test_a_20mb_png_is_fit_under_5mb(noise_png_20mb):
    encoded = encode_image(noise_png_20mb, "big")
    sent(encoded)
    assert encoded.note.startswith("`big`: ")
    assert "5 MB" in encoded.note and "\n" not in encoded.note


def test_a_large_smooth_image_stays_lossless_png():
    ramp = np.linspace(0, 255, 3000, dtype=np.uint8)
    array = np.stack([np.tile(ramp, (2000, 1))] * 3, axis=-1)
    encoded = encode_image(array, "ramp")
    assert encoded.mime_type == "image/png" and encoded.note == ""
    assert np.array_equal(np.asarray(sent(encoded)), array)


def test_a_large_transparent_image_is_downscaled_but_keeps_alpha():
    rng = np.random.default_rng(3)
    array = rng.integers(0, 256, (1800, 1800, 4), np.uint8)
    encoded = encode_image(array, "sprite")
    image = sent(encoded)
    assert image.mode == "RGBA" and image.width < 1800
    assert "downscaled to" in encoded.note


# Refusals: broken or meaningless values name the variable and the reason.


def test_truncated_png():
    data = png_bytes(Image.effect_noise((64, 64), 50))
    refused(data[: len(data) // 2], "truncated", "PNG")


def test_truncated_jpeg():
    data = saved(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")
    refused(data[: len(data) // 2], "truncated", "JPEG")


def test_zero_bytes_and_zero_byte_file(tmp_path):
    refused(b"", "empty")
    empty = tmp_path / "empty.png"
    empty.touch()
    refused(empty, "empty")


def test_bytes_that_are_no_image():
    refused(b"hello, world", "not an image")


def test_missing_path_and_directory(tmp_path):
    refused(tmp_path / "nope.png", "does not exist")
    refused(tmp_path, "is a folder")


def test_decompression_bomb_is_refused_before_decoding():
    # A 60000×60000 PNG that compresses to a few kilobytes: decoding it would take 10 GB.
    bomb = _png_header_only(60000, 60000)
    assert len(bomb) < 100_000
    refused(bomb, "decompression bomb", "downscale it first")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = zlib.compress(b"\0" * (width + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.full((4, 4), np.nan), "NaN or infinite"),
        (np.full((4, 4, 3), np.inf, np.float32), "NaN or infinite"),
        (np.full((4, 4), 2.5), "must lie in [0, 1]"),
        (np.full((4, 4), -0.1), "must lie in [0, 1]"),
        (np.zeros((4, 4), bool), "bool array"),
        (np.zeros((8, 8, 2), np.uint8), "has 2 channels"),
        (np.zeros((8, 8, 5), np.uint8), "has 5 channels"),
        (np.zeros((2, 4, 4, 3), np.uint8), "pass list(arr)"),
        (np.zeros(7, np.uint8), "shape (7,)"),
        (np.zeros((0, 4), np.uint8), "no pixels"),
        (np.full((4, 4), 1000, np.int32), "values from 1000 to 1000"),
        (np.zeros((4, 4), complex), "holds no pixel values"),
    ],
)
def test_meaningless_arrays(array, reason):
    refused(array, reason)


def test_huge_array_dimensions_are_refused_without_copying():
    huge = np.broadcast_to(np.zeros(1, np.uint8), (20000, 20000))  # 400 MP, no memory behind it
    refused(huge, "20000×20000", "downscale it first")


def test_extreme_shapes_are_sent():
    assert sent(encode_image(np.zeros((1, 1), np.uint8), "pic")).size == (1, 1)
    assert sent(encode_image(np.zeros((1, 20000, 3), np.uint8), "pic")).size == (20000, 1)


# Recognising image-like values (text stays text).


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Image.new("RGB", (1, 1)), True),
        (np.zeros((2, 2)), True),
        (b"\x89PNG", True),
        (Path("x.png"), True),
        ([Image.new("RGB", (1, 1)), b""], True),
        ("a string", False),
        (42, False),
        ([], False),
        ([Image.new("RGB", (1, 1)), "text"], False),
        ({"a": 1}, False),
    ],
)
def test_is_image_like(value, expected):
    assert is_image_like(value) is expected


# Properties: any uint8 or [0, 1] float array of a sensible shape is sent faithfully.

shapes = st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([None, 1, 3, 4]))


@st.composite
def image_arrays(draw):
    height, width, channels = draw(shapes)
    shape = (height, width) if channels is None else (height, width, channels)
    if draw(st.booleans()):
        return draw(arrays(np.uint8, shape))
    unit = st.floats(0, 1, allow_nan=False, width=32)
    return draw(arrays(np.float32, shape, elements=unit))


@given(image_arrays())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_valid_array_round_trips(array):
    image = sent(encode_image(array, "pic"))
    expected = array if array.dtype == np.uint8 else np.rint(array * 255).astype(np.uint8)
    if expected.ndim == 3 and expected.shape[2] == 1:
        expected = expected[..., 0]
    if expected.ndim == 3 and expected.shape[2] == 4 and (expected[..., 3] == 255).all():
        expected = expected[..., :3]
    assert np.array_equal(np.asarray(image), expected)


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_random_bytes_are_sent_or_refused_never_crash(data):
    try:
        sent(encode_image(data, "pic"))
    except ImageInputError as exc:
        assert str(exc).startswith("`pic`: ")


def _encoded_noise(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((48, 48), 64).convert("RGB").save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP"])
@given(cut=st.integers(0, 4000), flips=st.lists(st.integers(0, 4000), min_size=1, max_size=4))
@settings(max_examples=60, deadline=None)
def test_corrupted_files_are_sent_or_refused(fmt, cut, flips):
    data = bytearray(_encoded_noise(fmt))
    for flip in flips:
        data[flip % len(data)] ^= 0xFF
    try:
        sent(encode_image(bytes(data[: max(8, len(data) - cut % len(data))]), "pic"))
    except ImageInputError as exc:
        assert str(exc).startswith("`pic`: ")


@pytest.mark.parametrize(
    ("fmt", "flips", "cut"),
    [("PNG", [10], 1), ("PNG", [8], 1)],  # IHDR damage: Pillow raised a bare OSError on open
)
def test_damaged_header_is_refused_by_name(fmt, flips, cut):
    data = bytearray(_encoded_noise(fmt))
    for flip in flips:
        data[flip] ^= 0xFF
    with pytest.raises(ImageInputError, match=r"^`pic`: is (a damaged|not an image)"):
        encode_image(bytes(data[:-cut]), "pic")


# Through the magic: the conversions reach the wire, refusals stop before it.


def test_converted_images_reach_the_wire_in_prompt_order(ip, sim):
    ip.user_ns["cmyk"] = Image.new("CMYK", (10, 10))
    ip.user_ns["mask"] = np.ones((8, 8), np.float64)
    with capture_output():
        ip.run_cell_magic("banana", "", "blend {cmyk} with {mask} softly")
    parts = sim.requests[-1].body["contents"][0]["parts"]
    kinds = [next(iter(p)) for p in parts]
    assert kinds == ["text", "inlineData", "text", "inlineData", "text"]
    mimes = [p["inlineData"]["mime_type"] for p in parts if "inlineData" in p]
    assert mimes == ["image/png", "image/png"]
    pixels = base64.urlsafe_b64decode(parts[3]["inlineData"]["data"])
    assert Image.open(io.BytesIO(pixels)).getpixel((0, 0)) == 255


def test_a_refused_reference_sends_nothing(ip, sim):
    ip.user_ns["mask"] = np.zeros((8, 8), bool)
    message = fails(ip, "", "use {mask}")
    assert message.startswith("`mask`: is a bool array")
    assert sim.requests == []


def test_fifteen_references_to_pro_are_refused(ip, sim):
    ip.user_ns["refs"] = [Image.new("RGB", (4, 4), (i, 0, 0)) for i in range(15)]
    message = fails(ip, "-m pro", "combine {refs}")
    assert "15 images given; gemini-3-pro-image takes at most 14" in message
    assert sim.requests == []


def test_fourteen_references_to_pro_are_sent(ip, sim):
    ip.user_ns["refs"] = [Image.new("RGB", (4, 4), (i, 0, 0)) for i in range(14)]
    with capture_output():
        ip.run_cell_magic("banana", "-m pro", "combine {refs}")
    parts = sim.requests[-1].body["contents"][0]["parts"]
    assert sum("inlineData" in p for p in parts) == 14
