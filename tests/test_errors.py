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
    assert "Did you mean 'pro'" in message and "flash2" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("-a 7:3", "Invalid aspect ratio '7:3': use one of 1:1, 2:3"),
        ("-s 3K", "Invalid image size '3K': use one of 1K, 2K, 4K"),
        ("-s 4K", "gemini-2.5-flash-image makes 1K images only; for 4K use -m flash2 or -m pro"),
        ("--search", "--search (Google Search grounding) is not available"),
        ("--thoughts", "--thoughts needs a thinking model"),
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
    ip.user_ns["refs"] = [Image.new("RGB", (8, 8), c) for c in ("red", "green", "blue", "black")]
    message = fails(ip, "", "combine {refs}")
    assert "4 images given; gemini-2.5-flash-image takes at most 3" in message
    assert "-m pro" in message
    assert sim.requests == []


def test_empty_prompt_is_refused(ip, sim):
    assert "The prompt is empty" in fails(ip, "", "   \n  ")
    assert sim.requests == []


def test_usage_errors_print_no_traceback(ip, sim):
    with capture_output() as captured:
        ip.run_cell("%%banana -a 7:3\na cat")
    assert "Traceback" not in captured.stdout + captured.stderr
