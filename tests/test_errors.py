"""Every error a user can meet: one line naming the cause and the fix, never the key."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from nb_banana.session import session
from nb_banana.simulator import Fault

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


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.http(400, "Request contains an invalid argument."), "rejected the request (400"),
        (Fault.http(401), "refused the key (401"),
        (Fault.http(403), "refused the key (403"),
        (Fault.http(404), "was not found by the API (404"),
    ],
)
def test_client_errors_name_cause_and_fix(ip, sim, fault, expected):
    sim.inject(fault, times=5)
    message = fails(ip, "", "a cat")
    assert expected in message
    assert len(sim.requests) == 1  # 4xx other than 429 is not retried


@pytest.mark.parametrize(
    ("status", "expected"),
    [(429, "Rate limit reached (429"), (500, "service failed (500"), (503, "service failed (503")],
)
def test_transient_errors_are_retried_then_reported(ip, sim, status, expected):
    ip.run_line_magic("config", "Banana.retries = 2")
    sim.inject(Fault.http(status), times=10)
    message = fails(ip, "", "a cat")
    assert expected in message and "after 3 attempts" in message
    assert len(sim.requests) == 3


def test_rate_limit_mentions_retry_after(ip, sim):
    ip.run_line_magic("config", "Banana.retries = 0")
    sim.inject(Fault.http(429, retry_after=30))
    assert "wait 30 s (the server asked)" in fails(ip, "", "a cat")


def test_transient_error_that_clears_succeeds_after_backoff(ip, sim):
    sim.inject(Fault.http(503), times=2)
    with capture_output():
        ip.run_cell_magic("banana", "", "a cat")
    assert len(sim.requests) == 3
    assert ip.user_ns["_banana"].images


def test_timeout(ip, sim):
    ip.run_line_magic("config", "Banana.timeout = 0.3")
    ip.run_line_magic("config", "Banana.retries = 0")
    sim.inject(Fault.slow(2))
    assert "No reply within 0.3 s" in fails(ip, "", "a cat")


def test_blocked_prompt(ip, sim):
    sim.inject(Fault.block("SAFETY"))
    assert "The prompt was blocked (SAFETY)" in fails(ip, "", "a cat")


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("IMAGE_SAFETY", "withheld by the safety filter (IMAGE_SAFETY)"),
        ("IMAGE_PROHIBITED_CONTENT", "prohibited content (IMAGE_PROHIBITED_CONTENT)"),
        ("IMAGE_RECITATION", "protected material too closely (IMAGE_RECITATION)"),
        ("IMAGE_OTHER", "could not make the image (IMAGE_OTHER)"),
        ("NO_IMAGE", "chose not to draw (NO_IMAGE)"),
        ("MISSING_THOUGHT_SIGNATURE", "MISSING_THOUGHT_SIGNATURE"),
    ],
)
def test_refused_images_name_the_reason(ip, sim, reason, expected):
    sim.inject(Fault.finish(reason))
    assert expected in fails(ip, "", "a cat")


def test_text_only_reply_quotes_the_model(ip, sim):
    sim.inject(Fault.text_only("I would rather describe it."))
    message = fails(ip, "", "a cat")
    assert "without an image" in message and "I would rather describe it." in message


def test_undecodable_image(ip, sim):
    sim.inject(Fault.bad_image())
    assert "could not be decoded" in fails(ip, "", "a cat")


def test_malformed_json(ip, sim):
    sim.inject(Fault.malformed_json())
    assert "could not be read" in fails(ip, "", "a cat")


def test_error_command_shows_the_kept_traceback(ip, sim):
    sim.inject(Fault.http(400))
    fails(ip, "", "a cat")
    assert "Traceback" in session().last_error
    assert TEST_KEY not in session().last_error
    with capture_output() as captured:
        ip.run_line_magic("banana", "error")
    assert "ApiError" in captured.stdout


def test_usage_errors_print_no_traceback(ip, sim):
    with capture_output() as captured:
        ip.run_cell("%%banana -a 7:3\na cat")
    assert "Traceback" not in captured.stdout + captured.stderr
