"""The Python face: ``nb_banana.generate(...)``, ``agenerate``, ``compare`` and
``generate_each``, over the turn runner."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..answer import stamp
from ..answer.result import Result
from ..context import open_store_or_none, settings
from ..gemini.request import as_items, check_count
from ..memory import history
from ..memory.chat import Chat
from ..turns import runner as turns

if TYPE_CHECKING:
    from ..answer.comparison import Comparison
    from ..answer.each_result import EachResult


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


def compare(
    *prompt: object,
    models: Sequence[str] | str,
    aspect: str | None = None,
    size: str | None = None,
    n: int | None = None,
    search: tuple[str, ...] | str | bool = (),
    thoughts: bool | None = None,
    thinking: str | None = None,
    fresh: bool = False,
) -> Comparison:
    """The same prompt and options to each model at once: ``compare("a fox", models=["lite",
    "pro"])`` (or ``models="lite,flash,pro"``), as ``%%banana -m lite,flash,pro`` does.

    Returns a ``Comparison``: model id → ``Result`` in the order asked, shown as one row per
    model. An option a model lacks is dropped on its row, with a note; one no model takes
    is refused. Like ``generate``, it starts no chat.
    """
    from ..turns import comparison  # loads the SDK: not at %load_ext

    check_count(n)
    ask = turns.Ask(
        tuple(as_items(prompt)), aspect=aspect, size=size, count=n, search=search,
        thoughts=thoughts, thinking=thinking, fresh=fresh,
    )  # fmt: skip
    names = models.split(",") if isinstance(models, str) else list(models)
    return comparison.run(comparison.asks(ask, names))


def generate_each(
    template: str,
    items: object,
    *,
    model: str | None = None,
    aspect: str | None = None,
    size: str | None = None,
    n: int | None = None,
    search: tuple[str, ...] | str | bool = (),
    thoughts: bool | None = None,
    thinking: str | None = None,
    fresh: bool = False,
    save: str | Path | None = None,
    overwrite: bool = False,
    namespace: Mapping[str, object] | None = None,
) -> EachResult:
    """The template once per element: ``generate_each("a {item} in the snow", ["fox",
    "hare"])``, as ``%%banana --each`` does.

    ``{item}`` is the element (text, or an image); a dict element's keys fill ``{key}``;
    any other ``{name}`` comes from ``namespace`` (default: the caller's variables). The
    calls run concurrently, paced by ``Banana.max_concurrency`` and ``Banana.rpm``, with one
    progress display; each is stored like any call, so calling again answers the finished
    elements from the store. ``save``: a folder, files named by element index. An interrupt
    returns what finished (``.interrupted``); an error every element would meet (the key,
    the budget) is raised once the finished ones are stored.
    """
    from IPython import get_ipython

    from ..turns import each  # loads the SDK: not at %load_ext
    from .progress import shown  # loads the SDK (via each): not at %load_ext

    check_count(n)
    if namespace is None:
        caller = sys._getframe(1)
        namespace = {**caller.f_globals, **caller.f_locals}
    base = turns.Ask(
        (), model=model, aspect=aspect, size=size, count=n, search=search, thoughts=thoughts,
        thinking=thinking, fresh=fresh,
    )  # fmt: skip
    elements = each.elements(template, items, namespace, base)
    with shown(get_ipython(), len(elements)) as progress:
        result = each.run(elements, progress, save=save, overwrite=overwrite)
    if result.stopped is not None:
        raise result.stopped
    return result


async def agenerate(*prompt: object, **options: Any) -> Result:
    """``generate`` for async code (``await nb_banana.agenerate(...)`` in a notebook)."""
    return await asyncio.to_thread(generate, *prompt, **options)


def provenance(path: str | Path) -> dict[str, Any] | None:
    """How a saved picture was made: the prompt, model and settings nb_banana kept with it
    (in the file, or in this notebook's store when the file is kept exactly as Google sent
    it), and what its Content Credentials say (who signed them, that it is AI-made)."""
    store = open_store_or_none(settings().store)

    def find(digest: str) -> dict[str, Any] | None:
        row = store.made_picture(digest) if store is not None else None
        return history.row_provenance(row) if row is not None else None

    return stamp.provenance(path, find)
