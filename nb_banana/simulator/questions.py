"""When the simulated model answers in words only: a prompt that reads like a question.

The real image models sometimes answer with text and no picture (``finishReason: STOP``,
no image part), which happens when the prompt reads like a question
(../shared/REAL_REPLIES.md, "Usage and other fields"). What exactly makes the model answer
in words is not known, so the simulator keeps a simple rule a test can rely on
(docs/simulator.md, guess 48):

- the prompt contains ``[sim:text-only]`` (``TEXT_ONLY_MARK``): always words only;
- otherwise, a prompt that names a way of making a picture (``DRAWING_VERBS``: draw, make,
  add, …) is drawn;
- otherwise, a prompt that ends with ``?`` or starts with a question word
  (``QUESTION_WORDS``: what, why, how, can, is, does, …) is answered in words; the rest
  is drawn.
"""

from __future__ import annotations

import re

TEXT_ONLY_MARK = "[sim:text-only]"
# Words that start a question and rarely a description ("Will", "May" and "Mark" start
# names and titles, so they are left out).
QUESTION_WORDS = frozenset(
    (
        "what", "why", "how", "when", "where", "who", "whom", "whose", "which", "can",
        "could", "should", "would", "is", "are", "was", "were", "do", "does", "did",
    )
)  # fmt: skip
DRAWING_VERBS = frozenset(
    (
        "draw", "drawing", "paint", "painting", "sketch", "illustrate", "render", "generate",
        "create", "make", "design", "show", "edit", "change", "turn", "add", "remove",
        "replace", "put", "redraw", "recolour", "recolor", "colour", "color", "imagine",
        "visualise", "visualize", "depict",
    )
)  # fmt: skip
_IMAGE_MARK = re.compile(r"\[image \d+\]")  # where ``validate._prompt`` put the images
_WORD = re.compile(r"[a-z']+")


def answers_in_words(prompt: str) -> bool:
    """Whether the simulated model answers ``prompt`` (the latest user turn) with text only."""
    if TEXT_ONLY_MARK in prompt:
        return True
    text = _IMAGE_MARK.sub(" ", prompt).strip()
    words = _WORD.findall(text.lower())
    if not words or DRAWING_VERBS.intersection(words):
        return False
    return text.endswith("?") or words[0] in QUESTION_WORDS
