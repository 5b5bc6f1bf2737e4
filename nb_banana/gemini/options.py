"""Spelling rules for option values, shared by the settings, the magic and the panel.

These accept what any model of the table might take; whether the chosen model takes it is
``request``'s question, answered with that model's own list.
"""

from __future__ import annotations

from .models import ASPECT_RATIOS, IMAGE_SIZES, SEARCH_KINDS, THINKING_LEVELS

# Said for "no value: the model or the API chooses" (``-a auto``, the panel's first choice).
AUTO = "auto"


def normalise_aspect(value: str) -> str:
    """Accept ``16:9`` (also ``16x9`` or ``16/9``); refuse anything the API does not list.

    Empty or ``auto`` is the model's own choice (``""``): nothing is sent, so an edit keeps
    its picture's shape, as Google's model does unless a ratio is named.
    """
    cleaned = value.strip().lower().replace("x", ":").replace("/", ":").replace(" ", "")
    if cleaned in ("", AUTO):
        return ""
    if cleaned not in ASPECT_RATIOS:
        raise ValueError(
            f"Invalid aspect ratio '{value}': use one of {', '.join(ASPECT_RATIOS)}, "
            f"or {AUTO} for the model's choice."
        )
    return cleaned


def normalise_size(value: str) -> str:
    """Accept ``2k`` and send ``2K``, ``512px`` and send ``512``: the API's own spellings.

    Empty or ``auto`` sends none: the API's default (1K).
    """
    cleaned = value.strip().upper().removesuffix("PX")
    if cleaned in ("", AUTO.upper()):
        return ""
    if cleaned not in IMAGE_SIZES:
        raise ValueError(
            f"Invalid image size '{value}': use one of {', '.join(IMAGE_SIZES)}, "
            f"or {AUTO} for the API's default."
        )
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


# Vertex AI's ``imageConfig.imageOutputOptions``: the answer's format (Vertex only).
OUTPUT_FORMATS = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png"}


def output_options(value: str, quality: int | None) -> tuple[str, int | None]:
    """``-f jpeg|png`` and ``--quality 0-100`` as (MIME type, quality); ``("", None)`` when
    neither is given (the model's own format). A quality is a JPEG's, so it implies JPEG."""
    cleaned = value.strip().lower()
    if cleaned and cleaned not in OUTPUT_FORMATS:
        raise ValueError(f"Invalid format '{value}': use jpeg or png.")
    mime = OUTPUT_FORMATS.get(cleaned, "")
    if quality is None:
        return mime, None
    if not 0 <= quality <= 100:
        raise ValueError(f"--quality must be between 0 and 100, not {quality}.")
    if mime == "image/png":
        raise ValueError("--quality is a JPEG's compression quality: use it with -f jpeg.")
    return "image/jpeg", quality
