"""Odd and hostile prompt text: sent exactly as meant, or refused in one line; never a crash.

What reaches the wire is read from ``sim.requests[-1].body``, the JSON the SDK really sent.
Image inputs are covered in test_images.py; ``{{x}}`` and one non-Latin prompt in
test_magic.py.
"""

from __future__ import annotations

import time

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nb_banana.context import session

from .cells import run
from .test_errors import fails


def sent_text(sim) -> str:
    [part] = sim.requests[-1].body["contents"][-1]["parts"]
    return part["text"]


EMPTY = "The prompt is empty: write what to draw in the cell below %%banana, e.g. 'a lighthouse"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("", "%%banana is a cell magic, but the cell body is empty."),  # IPython's own check
        ("\n", EMPTY),
        (" \t\u3000\n", EMPTY),
    ],
    ids=["empty", "newline", "blanks"],
)
def test_empty_cell_is_refused_before_sending(ip, sim, cell, expected):
    assert fails(ip, "", cell).startswith(expected)
    assert sim.requests == []


def test_bare_line_magic_is_refused_before_sending(ip, sim):
    with pytest.raises(UsageError, match=r"^The prompt is empty"), capture_output():
        ip.run_line_magic("banana", "")
    assert sim.requests == []


def test_a_100k_character_prompt_arrives_whole_and_quickly(ip, sim):
    prompt = "".join(f"line {i}: a banana with {{braces}} and ünïcödé 🍌\n" for i in range(2200))
    prompt = prompt.replace("{braces}", "{{braces}}")[:100_000]
    started = time.monotonic()
    run(ip, "", prompt)
    assert time.monotonic() - started < 10
    assert sent_text(sim) == prompt.replace("{{braces}}", "{braces}")
    assert len(prompt) == 100_000
    assert ip.user_ns["_banana"].images[0].size == (1024, 1024)


@pytest.mark.parametrize(
    ("cell", "wire"),
    [
        ("a { b", "a { b"),
        ("a } b {", "a } b {"),
        ("{{", "{{"),
        ("}}{{", "}}{{"),
        ("{x", "{x"),
        ("x}", "x}"),
        ("{{{x}}}", "{{x}}"),
        ("{}", "{}"),
        ("{ x }", "{ x }"),
        ("{1x}", "{1x}"),
        ("{x.y}", "{x.y}"),
        ("{None} {True} {class}", "{None} {True} {class}"),
    ],
    ids=["open", "close-open", "double-open", "double-close-open", "open-name", "name-close",
         "triple", "empty-pair", "spaced", "digit-first", "dotted", "keywords"],
)  # fmt: skip
def test_unmatched_and_non_name_braces_are_sent_as_written(ip, sim, cell, wire):
    run(ip, "", f"a sign that reads {cell}")
    assert sent_text(sim) == f"a sign that reads {wire}"


CODE = """draw this code as a poster:
def f(xs):
    seen = {x for x in xs if x}
    return {"n": len(seen), "first": f"{xs[0]!r}", "nested": {"a": [1, {2: 3}]}}
"""
JSON = '{"title": "Menu", "items": [{"name": "tea", "price": 2}, {}], "meta": {"v": 1}}'


@pytest.mark.parametrize("cell", [CODE, JSON], ids=["python", "json"])
def test_code_and_json_braces_are_sent_as_written(ip, sim, cell):
    run(ip, "", cell)
    assert sent_text(sim) == cell


@pytest.mark.parametrize(
    "cell",
    [
        "مرحبا بالعالم — كتابة من اليمين إلى اليسار",  # Arabic, right to left
        "नमस्ते दुनिया",  # Devanagari, combining marks
        "안녕하세요 세계",  # Hangul
        "Привет, мир",  # Cyrillic
        "e\u0301 n\u0303 a\u030a",  # combining accents, not precomposed
        "👩‍👩‍👧‍👦 🏳️‍🌈 🇯🇵 👍🏽",  # ZWJ families, flag, skin tone
        "\u202eRTL override\u202c and zero\u200bwidth",  # bidi and invisible characters
        "tab\there, nul\x00here, bell\x07",  # control characters
    ],
    ids=["arabic", "devanagari", "hangul", "cyrillic", "combining", "emoji-zwj", "bidi",
         "controls"],
)  # fmt: skip
def test_non_latin_scripts_and_emoji_arrive_intact(ip, sim, cell):
    run(ip, "", cell)
    assert sent_text(sim) == cell
    assert ip.user_ns["_banana"].request.text == cell


def test_a_lone_surrogate_is_replaced_not_a_crash(ip, sim):
    """A broken paste can hold half an emoji; UTF-8 cannot carry it, so it becomes U+FFFD."""
    run(ip, "", "a cat \ud83c and a pear \ud83c\udf50")
    assert sent_text(sim) == "a cat \ufffd and a pear 🍐"


def test_a_function_or_class_is_not_inserted_as_text(ip, sim):
    ip.run_cell("def recolour(image):\n    return image\nclass Palette:\n    pass")
    for name, kind in (("recolour", "function or class"), ("Palette", "function or class")):
        assert fails(ip, "", f"use {{{name}}}") == (
            f"{{{name}}} is a {kind}, not an image or text; write {{{{{name}}}}} for a literal "
            f"{{{name}}}."
        )
    assert sim.requests == []


def test_a_builtin_name_is_not_looked_up_outside_the_notebook(ip, sim):
    message = fails(ip, "", "print {print} here")
    assert message.startswith("{print} is not defined in the notebook.")
    assert "write {{print}} for a literal {print}" in message
    assert sim.requests == []


def test_a_refused_prompt_leaves_chats_alone(ip, sim):
    run(ip, "-c house", "a house")
    fails(ip, "-c house", "use {undefined_thing}")
    assert [t.prompt for t in session().chats.get("house").turns] == ["a house"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("-n", "An option is missing its value"),
        ('-a "16:9 a cat', "Cannot read the options (no closing quotation): close the quote"),
        ("--colour red a cat", "Unknown option --colour"),
        ("-n two a cat", "argument -n/--count: invalid int value: 'two': see %banana? for"),
    ],
    ids=["missing-value", "open-quote", "unknown-option", "not-a-number"],
)
def test_odd_line_magic_options_are_one_line_errors(ip, sim, line, expected):
    with pytest.raises(UsageError) as info, capture_output():
        ip.run_line_magic("banana", line)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert sim.requests == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("--save 'my pictures/cat.png", "Cannot read the options (no closing quotation)"),
        ("-n two", "argument -n/--count: invalid int value: 'two': see %banana? for"),
        ("-s 3K", "Invalid image size '3K': use one of 512, 1K, 2K, 4K, or auto for the API's"),
    ],
    ids=["open-quote", "not-a-number", "bad-choice"],
)
def test_odd_cell_magic_options_are_one_line_errors(ip, sim, line, expected):
    message = fails(ip, line, "a cat")
    assert expected in message and "\n" not in message
    assert sim.requests == []
