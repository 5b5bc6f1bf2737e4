"""Spelling rules for option values, shared by the settings, the magic and the panel."""

from __future__ import annotations

from .models import ASPECT_RATIOS, IMAGE_SIZES


def normalise_aspect(value: str) -> str:
    """Accept ``16:9`` (also ``16x9`` or ``16/9``); refuse anything the API does not list."""
    cleaned = value.strip().lower().replace("x", ":").replace("/", ":").replace(" ", "")
    if cleaned not in ASPECT_RATIOS:
        raise ValueError(f"Invalid aspect ratio '{value}': use one of {', '.join(ASPECT_RATIOS)}.")
    return cleaned


def normalise_size(value: str) -> str:
    """Accept ``2k`` and send ``2K``: the API rejects the lower-case spelling."""
    cleaned = value.strip().upper()
    if cleaned not in IMAGE_SIZES:
        raise ValueError(f"Invalid image size '{value}': use one of {', '.join(IMAGE_SIZES)}.")
    return cleaned
