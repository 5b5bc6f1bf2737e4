"""Errors in what the user wrote: one line naming the cause and the fix, never the key.

Errors from the API and the network are in test_faults.py (the fault matrix).
"""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from .conftest import TEST_KEY


def fails(ip, line: str, cell: str) -> str:
    with pytest.raises(UsageError) as info, capture_output():
        ip.run_cell_magic("banana", line, cell)
    message = str(info.value)
    assert "\n" not in message
    assert TEST_KEY not in message
    return message


def test_no_key_says_how_to_set_one(ip, sim, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    message = fails(ip, "", "a cat")
    assert "GEMINI_API_KEY" in message and "%banana key" in message
    assert "%banana offline" in message
    assert sim.requests == []


def test_unknown_alias_lists_the_choices(ip, sim):
    message = fails(ip, "-m prp", "a cat")
    assert "Did you mean 'pro'" in message and "lite" in message and "flash2" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("-a 7:3", "Invalid aspect ratio '7:3': use one of 1:1, 2:3"),
        ("-s 3K", "Invalid image size '3K': use one of 512, 1K, 2K, 4K"),
        (
            "-s 4K",
            "gemini-3.1-flash-lite-image does not take 4K images (makes -s 1K); for 4K "
            "use -m flash or -m pro.",
        ),
        (
            "--search",
            "gemini-3.1-flash-lite-image does not take --search web (takes no "
            "--search); for web use -m flash or -m pro.",
        ),
        (
            "-m pro --search image",
            "gemini-3-pro-image does not take --search image (takes "
            "--search web); for image use -m flash.",
        ),
        ("-m pro -a 8:1", "gemini-3-pro-image does not take the aspect ratio 8:1 (takes -a 1:1 /"),
        ("-m pro -s 512", "for 512 use -m flash."),
        (
            "-m pro --thinking high",
            "gemini-3-pro-image does not take --thinking high (takes no "
            "--thinking); for high use -m lite or -m flash.",
        ),
        ("--thinking max", "Invalid thinking level 'max': use minimal or high."),
        ("--search video", "Invalid search kind 'video'"),
        ("-n 40", "-n/--count must be between 1 and 16"),
    ],
)
def test_invalid_options_are_refused_before_sending(ip, sim, line, expected):
    assert expected in fails(ip, line, "a cat")
    assert sim.requests == []


def test_undefined_name_suggests_close_names(ip, sim):
    ip.user_ns["sunset_photo"] = Image.new("RGB", (8, 8))
    message = fails(ip, "", "edit {sunset_phot}")
    assert "{sunset_phot} is not defined" in message and "{sunset_photo}" in message
    assert "{{sunset_phot}}" in message


def test_a_module_is_not_inserted_as_text(ip, sim):
    ip.run_cell("import os")
    assert "is a module" in fails(ip, "", "draw {os}")


def test_image_option_with_a_string_is_refused(ip, sim):
    ip.user_ns["caption"] = "hello"
    message = fails(ip, "-i caption", "a cat")
    assert "`caption`" in message and "not an image" in message


def test_too_many_images_for_the_model(ip, sim):
    ip.user_ns["refs"] = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(15)]
    message = fails(ip, "", "combine {refs}")
    assert "15 images given; gemini-3.1-flash-lite-image takes at most 14." in message
    assert sim.requests == []


def test_empty_prompt_is_refused(ip, sim):
    assert "The prompt is empty" in fails(ip, "", "   \n  ")
    assert sim.requests == []


def test_usage_errors_print_no_traceback(ip, sim):
    with capture_output() as captured:
        ip.run_cell("%%banana -a 7:3\na cat")
    assert "Traceback" not in captured.stdout + captured.stderr
