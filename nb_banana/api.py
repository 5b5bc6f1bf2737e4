"""The Python face: ``nb_banana.generate(...)`` and ``agenerate``, over the turn runner."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from . import images, turns
from .chat import Chat
from .request import Item, check_count
from .result import Result


def generate(
    *prompt: object,
    model: str | None = None,
    aspect: str | None = None,
    size: str | None = None,
    n: int | None = None,
    search: tuple[str, ...] | str | bool = (),
    thoughts: bool | None = None,
    thinking: str | None = None,
    chat: Chat | None = None,
    fresh: bool = False,
) -> Result:
    """Make images from text and images: ``generate("a cat in", hat_image, "style")``.

    Strings are prompt text and image-like values (PIL, numpy, bytes, Path, matplotlib
    figures) are sent as images, in the order given. Unset options come from the settings
    (``%config Banana.…``). ``search`` is ``True`` (web), ``"image"`` or ``"web,image"``;
    ``thinking`` is ``"minimal"`` or ``"high"``. Pass a ``Chat`` to continue a conversation.
    """
    check_count(n)
    ask = turns.Ask(
        tuple(as_items(prompt)), model=model, aspect=aspect, size=size, count=n,
        search=search, thoughts=thoughts, thinking=thinking, chat=chat, fresh=fresh,
    )  # fmt: skip
    return turns.run(ask)


async def agenerate(*prompt: object, **options: Any) -> Result:
    """``generate`` for async code (``await nb_banana.agenerate(...)`` in a notebook)."""
    return await asyncio.to_thread(generate, *prompt, **options)


def as_items(parts: Sequence[object]) -> list[Item]:
    """Python-API arguments -> items: strings are text, anything image-like is an image."""
    items: list[Item] = []
    for index, part in enumerate(parts):
        if isinstance(part, str) or _is_named(part):
            items.append(part)
        elif images.is_image_like(part):
            items.append((f"image{index + 1}", part))
        else:
            items.append(str(part))
    return items


def _is_named(part: object) -> bool:
    """A ``(name, value)`` pair: an image given under a name of the caller's choosing."""
    return isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], str)
