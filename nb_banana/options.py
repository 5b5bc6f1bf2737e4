"""Spelling rules for option values, shared by the settings, the magic and the panel.

These accept what any model of the table might take; whether the chosen model takes it is
``request``'s question, answered with that model's own list.
"""

from __future__ import annotations

from .models import ASPECT_RATIOS, IMAGE_SIZES, SEARCH_KINDS, THINKING_LEVELS


def normalise_aspect(value: str) -> str:
    """Accept ``16:9`` (also ``16x9`` or ``16/9``); refuse anything the API does not list."""
    cleaned = value.strip().lower().replace("x", ":").replace("/", ":").replace(" ", "")
    if cleaned not in ASPECT_RATIOS:
        raise ValueError(f"Invalid aspect ratio '{value}': use one of {', '.join(ASPECT_RATIOS)}.")
    return cleaned


def normalise_size(value: str) -> str:
    """Accept ``2k`` and send ``2K``, ``512px`` and send ``512``: the API's own spellings."""
    cleaned = value.strip().upper().removesuffix("PX")
    if cleaned not in IMAGE_SIZES:
        raise ValueError(f"Invalid image size '{value}': use one of {', '.join(IMAGE_SIZES)}.")
    return cleaned


def normalise_thinking(value: str) -> str:
    """``minimal`` or ``high`` (any case); empty means the model's own default."""
    cleaned = value.strip().lower()
    if cleaned and cleaned not in THINKING_LEVELS:
        raise ValueError(f"Invalid thinking level '{value}': use {' or '.join(THINKING_LEVELS)}.")
    return cleaned


def normalise_search(value: str | bool | tuple[str, ...] | None) -> tuple[str, ...]:
    """``--search`` alone is web search; ``image`` or ``web,image`` (or a tuple of kinds,
    as the panel and ``generate`` give them) name the kinds."""
    if isinstance(value, tuple | list):
        value = ",".join(value)
    if value is None or value is False or value == "":
        return ()
    if value is True:
        return ("web",)
    kinds = {kind.strip().lower() for kind in value.replace("+", ",").split(",") if kind.strip()}
    unknown = sorted(kinds - set(SEARCH_KINDS))
    if unknown or not kinds:
        raise ValueError(
            f"Invalid search kind '{value}': use --search (web), --search image or "
            "--search web,image."
        )
    return tuple(kind for kind in SEARCH_KINDS if kind in kinds)
