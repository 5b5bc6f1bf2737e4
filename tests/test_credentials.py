"""Pictures are kept exactly as Google sent them, Content Credentials included (issue 19).

Nano Banana Pro answers in JPEG with a C2PA manifest in an APP11 segment; the manifest
binds a hash of the file's bytes. The simulator signs its Pro pictures with the C2PA
project's own library (``c2pa-python``), so the C2PA reader's verdict "valid" after a save
proves the bytes were kept; the tests also compare the bytes themselves.
"""

from __future__ import annotations

import io

import c2pa
import pytest
from IPython.utils.capture import capture_output
from PIL import Image

import nb_banana
from nb_banana.answer.credentials import carries, read

from .cells import run
from .conftest import restart_kernel
from .test_batch import finished


def verdict(data: bytes) -> str:
    return c2pa.Reader("image/jpeg", io.BytesIO(data)).get_validation_state()


@pytest.fixture
def story(ip, sim):
    """A Pro picture as the service sent it."""
    run(ip, "-m pro", "An illustration for a story about a lighthouse keeper")
    result = ip.user_ns["_banana"]
    out = result.outputs[0]
    assert out.mime_type == "image/jpeg" and carries(out.data, "image/jpeg")
    assert verdict(out.data) == "Valid"
    return result


def test_a_pro_jpeg_saved_as_jpg_keeps_its_bytes_and_its_credentials(story, tmp_path):
    paths = story.save(tmp_path / "story.jpg")
    data = paths[0].read_bytes()
    assert data == story.outputs[0].data
    assert verdict(data) == "Valid"


def test_a_folder_or_a_name_without_a_suffix_takes_the_replys_format(ip, story, tmp_path):
    story.save(tmp_path / "shots")
    run(ip, f"-m pro --save {tmp_path / 'more'}/",
        "An illustration for a story about a lighthouse keeper")  # fmt: skip
    for path in (tmp_path / "shots" / "banana-1.jpg", tmp_path / "more" / "banana-1.jpg"):
        assert path.read_bytes() == story.outputs[0].data


def test_saving_into_another_format_converts_and_says_so(ip, story, tmp_path):
    captured = run(ip, f"-m pro --save {tmp_path / 'story.png'}",
                   "An illustration for a story about a lighthouse keeper")  # fmt: skip
    assert "converted from the reply's JPEG to PNG, without Google's Content Credentials" in (
        captured.stdout
    )
    assert "save as .jpg to keep the picture exactly as sent" in captured.stdout
    with Image.open(tmp_path / "story.png") as img:
        assert img.format == "PNG" and img.size == story.image.size


def test_export_keeps_every_picture_as_sent(ip, story, tmp_path):
    with capture_output():
        ip.run_line_magic("banana", f"export {tmp_path / 'out'}")
    exported = [p.read_bytes() for p in (tmp_path / "out").glob("*.jpg")]
    assert story.outputs[0].data in exported


def test_provenance_reads_the_prompt_from_the_store_and_who_signed_the_picture(story, tmp_path):
    path = story.save(tmp_path / "story.jpg")[0]
    info = nb_banana.provenance(path)
    assert info["prompt"].startswith("An illustration for a story")
    assert info["model"] == "gemini-3-pro-image"
    assert info["content_credentials"] == {
        "issuer": "Google LLC",
        "generator": "Google C2PA Core Generator Library",
        "ai_made": True,
        "state": "valid",
    }


def test_a_tampered_file_is_reported_invalid(story, tmp_path):
    data = bytearray(story.outputs[0].data)
    data[-200] ^= 0xFF  # one byte of the picture itself
    found = read(bytes(data), "image/jpeg")
    assert found is not None and found.state == "invalid"


def test_the_caption_says_who_signed_the_picture(ip, sim):
    captured = run(ip, "-m pro", "a lighthouse keeper's cat")
    text = captured.outputs[0].data["text/plain"]
    assert "Content Credentials: signed by Google LLC, AI-made, valid" in text


def test_the_store_keeps_the_bytes_across_a_restart(ip, story):
    restart_kernel()
    run(ip, "-m pro -o again", "An illustration for a story about a lighthouse keeper")
    again = ip.user_ns["again"]
    assert again.cached
    assert again.outputs[0].data == story.outputs[0].data


def test_batch_results_keep_the_bytes_as_sent(ip, sim):
    submitted = finished(nb_banana.submit_batch(["a lighthouse", "a harbour"], model="pro"))
    for result in submitted.results():
        out = result.outputs[0]
        assert out.mime_type == "image/jpeg" and verdict(out.data) == "Valid"
