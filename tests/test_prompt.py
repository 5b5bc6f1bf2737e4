"""The prompt scanner: {name} references, {{name}} escapes, and braces left alone."""

from __future__ import annotations

import keyword

from hypothesis import given
from hypothesis import strategies as st

from nb_banana.gemini.prompt import Ref, parse

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n)
)
plain_text = st.text(st.characters(blacklist_characters="{}"), min_size=1, max_size=20)
code_braces = st.sampled_from(['{"a": 1}', "{ x }", "{1x}", "{", "}", "f(){}", "{None}", "{a.b}"])


def test_reference_splits_text_in_order():
    assert parse("a {cat} on a mat") == ["a ", Ref("cat"), " on a mat"]


def test_double_braces_are_a_literal_name():
    assert parse("write {{name}} here") == ["write {name} here"]


def test_json_and_code_braces_stay_as_written():
    text = 'def f(): return {"a": [1, {2}]}  # {not valid} { x }'
    assert parse(text) == [text]


def test_keywords_are_not_references():
    assert parse("{None} and {True}") == ["{None} and {True}"]


def test_unicode_names_and_emoji_survive():
    assert parse("über {ñame} 🍌") == ["über ", Ref("ñame"), " 🍌"]


@given(
    st.lists(st.one_of(plain_text, code_braces, names.map(Ref), names.map(lambda n: ("esc", n))))
)
def test_parse_recovers_references_and_literals(pieces):
    # Pieces are joined with spaces: "{" + "{x}" + "}" would spell the escape "{{x}}".
    text = " ".join(
        "{" + p.name + "}"
        if isinstance(p, Ref)
        else "{{" + p[1] + "}}"
        if isinstance(p, tuple)
        else p
        for p in pieces
    )
    expected_refs = [p for p in pieces if isinstance(p, Ref)]
    segments = parse(text)
    assert [s for s in segments if isinstance(s, Ref)] == expected_refs
    rebuilt = "".join("\0" if isinstance(s, Ref) else s for s in segments)
    wanted = " ".join(
        "\0" if isinstance(p, Ref) else "{" + p[1] + "}" if isinstance(p, tuple) else p
        for p in pieces
    )
    assert rebuilt == wanted
