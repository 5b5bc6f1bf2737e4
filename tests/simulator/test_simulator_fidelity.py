"""The simulator refuses what the API refuses, in the API's error shape, over raw HTTP.

The bodies are the curl examples of the API reference (/work/shared/nano-banana-api-reference.md)
with one thing changed; test_simulator.py proves the same refusals through the SDK.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .test_simulator import LITE, PRO, b64, image_bytes, ok, rejected, reply_image

# The reference's "Basic Text-to-Image", "With Image Configuration" and "Image Editing" bodies.
BASIC_BODY = {
    "contents": [{"parts": [{"text": "Your image description here"}]}],
    "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]},
}
IMAGE_CONFIG_BODY = {
    "contents": [{"parts": [{"text": "Your prompt"}]}],
    "generationConfig": {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
    },
}


def editing_body(data: bytes, mime_type: str = "image/jpeg") -> dict[str, Any]:
    return {
        "contents": [{"parts": [
            {"text": "Edit instructions here"},
            {"inline_data": {"mime_type": mime_type, "data": b64(data)}},
        ]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]},
    }  # fmt: skip


def with_image_config(**changes: str) -> dict[str, Any]:
    body = copy.deepcopy(IMAGE_CONFIG_BODY)
    body["generationConfig"]["imageConfig"].update(changes)
    return body


def test_reference_image_config_body_is_accepted_by_pro(sim):
    assert reply_image(ok(sim, IMAGE_CONFIG_BODY, model=PRO)).size == (2752, 1536)


@pytest.mark.parametrize(
    ("body", "model", "expected"),
    [
        (with_image_config(imageSize="1k"), PRO,
         "image_size '1k' is not supported by gemini-3-pro-image; use one of '1K', "
         "'2K', '4K'. Use an upper-case 'K' (e.g. '1K', not '1k')."),
        (with_image_config(aspectRatio="7:3"), PRO, "aspect_ratio must be one of '1:1'"),
        (with_image_config(aspectRatio="16/9"), PRO, "aspect_ratio must be one of '1:1'"),
        (with_image_config(imageSize="4K"), LITE,
         "image_size '4K' is not supported by gemini-3.1-flash-lite-image"),
        (IMAGE_CONFIG_BODY, LITE,
         "image_size '2K' is not supported by gemini-3.1-flash-lite-image"),
        ({**BASIC_BODY, "tools": [{"google_search": {}}]}, LITE,
         "Search Grounding is not supported."),
        (editing_body(b"\x89PNG\r\n\x1a\n" + bytes(6 * 2**20), "image/png"), LITE,
         "is 6.0 MB; the limit is 5 MB per image."),
        (editing_body(image_bytes(fmt="GIF"), "image/gif"), LITE,
         "Unsupported MIME type: image/gif"),
        (editing_body(image_bytes(fmt="JPEG"), "image/heic"), LITE,
         "Unsupported MIME type: image/heic"),
    ],
    ids=["lowercase-1k", "unknown-ratio", "slash-ratio", "4k-on-lite", "2k-on-lite",
         "search-on-lite", "6mb-image", "gif", "heic"],
)  # fmt: skip
def test_what_the_api_refuses_is_a_400_in_its_error_shape(sim, body, model, expected):
    assert expected in rejected(sim, body, model=model)


def test_reference_search_body_is_accepted_by_pro(sim):
    body = {**IMAGE_CONFIG_BODY, "tools": [{"google_search": {}}]}
    assert reply_image(ok(sim, body, model=PRO)).size == (2752, 1536)


def test_reference_multi_image_body_is_accepted_by_pro(sim):
    parts = [{"text": "Create a group photo of these people"}]
    parts += [
        {"inline_data": {"mime_type": "image/png", "data": b64(image_bytes(colour))}}
        for colour in ("red", "green", "blue")
    ]
    reply = ok(sim, {"contents": [{"parts": parts}]}, model=PRO)
    # No ratio asked for: the model keeps the first picture's shape (64x48, nearest 4:3).
    assert reply_image(reply).size == (1200, 896)


def test_an_image_just_under_5_mb_is_accepted(sim):
    noise = image_bytes(size=(8, 8)) + bytes(5 * 2**20 - 2000)  # a PNG with trailing bytes
    assert len(noise) < 5 * 2**20
    ok(sim, editing_body(noise, "image/png"))
