"""Cell text -> an ordered list of text and ``{name}`` references.

Only ``{identifier}`` is a reference; ``{{identifier}}`` is a literal ``{identifier}``; any
other brace (code, JSON, a lone ``{``) stays exactly as written. This is a scanner, not
``str.format``, so a prompt that quotes code never breaks.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\{\{(\w+)\}\}|\{(\w+)\}")


@dataclass(frozen=True)
class Ref:
    """A ``{name}`` in the prompt: a notebook variable to insert at this position."""

    name: str


Segment = str | Ref


def _is_name(word: str) -> bool:
    return word.isidentifier() and not keyword.iskeyword(word)


def parse(text: str) -> list[Segment]:
    """Split prompt text into literal strings and references, in order."""
    segments: list[Segment] = []
    literal: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        escaped, name = match.group(1), match.group(2)
        word = escaped or name
        if not _is_name(word):
            continue
        literal.append(text[pos : match.start()])
        pos = match.end()
        if escaped:
            literal.append("{" + escaped + "}")
            continue
        if "".join(literal):
            segments.append("".join(literal))
        literal = []
        segments.append(Ref(name))
    literal.append(text[pos:])
    if "".join(literal):
        segments.append("".join(literal))
    return segments
