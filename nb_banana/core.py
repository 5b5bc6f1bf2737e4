"""``generate()``: prompt pieces in, ``Result`` out. No IPython here.

The magics and the panel are faces over these functions: they turn a cell or a click into
items and options, call ``prepare`` and ``execute`` (or ``submit`` for the panel, which must
not block the kernel), and display what comes back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import images, offline
from .chat import Chat
from .errors import ApiError, BananaError, BudgetError
from .models import default_model
from .previews import make_previews
from .request import Item, Request, build_request
from .result import Result
from .session import session
from .settings import settings
from .store import Row, Store, open_store_or_none
from .usage import estimate_before, format_usd


@dataclass(frozen=True)
class DryRun:
    """What ``--dry-run`` shows: the request as it would go out, and its estimated cost."""

    request: Request
    history_turns: int
    endpoint: str
    body: dict[str, Any]
    estimate: float

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        from .display import dry_run_bundle

        return dry_run_bundle(self)


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


def _utf8_safe(text: str) -> str:
    """Text that encodes as UTF-8: split surrogate pairs joined, a lone one (a broken paste
    or a frontend's half emoji) replaced by U+FFFD, instead of failing after validation."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def prepare(
    items: Sequence[Item],
    *,
    model: str | None = None,
    aspect: str | None = None,
    size: str | None = None,
    count: int | None = None,
    search: tuple[str, ...] | str | bool = (),
    thoughts: bool | None = None,
    thinking: str | None = None,
    chat: Chat | None = None,
) -> Request:
    """Fill unset options from the settings (or the chat's model) and validate."""
    s = settings()
    chosen = model or (chat.model_id if chat and chat.turns else s.model)
    request = build_request(
        [_utf8_safe(item) if isinstance(item, str) else item for item in items],
        model=chosen,
        aspect=aspect or s.aspect,
        size=size or s.size,
        count=count or s.count,
        search=search,
        thoughts=s.thoughts if thoughts is None else thoughts,
        thinking=s.thinking if thinking is None else thinking,
    )
    if chat is not None:
        chat.check_model(request.model.id)
    return request


def dry_run(request: Request, chat: Chat | None = None) -> DryRun:
    from . import engine, wire

    history = chat.history() if chat else []
    estimate = estimate_before(
        request.model, request.text, len(request.images), request.count, request.size
    )
    return DryRun(
        request,
        len(chat.turns) if chat else 0,
        engine.endpoint(settings().base_url),
        wire.rest_body(request, history),
        estimate,
    )


async def execute_async(
    request: Request, chat: Chat | None = None, *, fresh: bool = False, pick: int | None = None
) -> Result:
    """Answer from the store when the same request was paid for before; otherwise call.

    The chat turn is recorded last, after the final ``await``: a failure of any kind, or
    an interrupt (which cancels the task at an ``await``), leaves the history as it was.
    """
    from . import cache, engine, wire

    s = settings()
    store = open_store_or_none(s.store)
    at = _turn_index(request, chat, pick)
    history = chat.history(pick, upto=at) if chat else []
    keys = cache.keys_for(request, history)
    key = keys[0]
    start = time.perf_counter()
    if store is not None and s.cache and not fresh and (row := _lookup(store, keys)):
        replies, previews = cache.rebuild(store, row, request)
        result = _result(request, chat, replies, (), previews, start, cached=True, at=at)
        if chat is not None and at < len(chat.turns) and chat.turns[at].key in keys:
            chat.replayed(at, pick)  # a re-run cell: the thread already holds this turn
        else:
            result.notes += _commit(request, chat, pick, replies, key, at)
        session().account(result)
        return result
    _check_budget(request, store)
    eng = engine.engine()
    client = engine.current_client()
    config = wire.config(request, timeout=s.timeout, retries=s.retries, retry_delay=s.retry_delay)
    context = {
        "endpoint": engine.endpoint(s.base_url),
        "timeout": s.timeout,
        "attempts": s.retries + 1,
    }
    outcomes = await engine.run_samples(
        client, request, history, config, eng.semaphore(s.max_concurrency), context
    )
    replies = tuple(o for o in outcomes if isinstance(o, wire.Reply))
    failures = tuple(o for o in outcomes if isinstance(o, BananaError))
    if not replies:
        raise _explained(failures[0], request, history)
    outs = [(image.data, image.mime_type) for reply in replies for image in reply.images]
    previews = await asyncio.get_running_loop().run_in_executor(
        None, make_previews, outs, s.preview_px
    )
    result = _result(request, chat, replies, failures, tuple(previews), start, cached=False, at=at)
    if store is not None:
        result = await asyncio.get_running_loop().run_in_executor(None, _stored, store, key, result)
    else:
        result.notes += (f"Not kept in the store: {s.store} cannot be opened.",)
    result.notes += _commit(request, chat, pick, replies, key, at)
    session().account(result)
    return result


def _lookup(store: Store, keys: tuple[str, ...]) -> Row | None:
    return next((row for key in keys if (row := store.lookup(key))), None)


def _explained(error: BananaError, request: Request, history: Sequence[Any]) -> BananaError:
    """A refused history that a shut-down model made: say why, and what to do instead."""
    if not (history and request.replaced and getattr(error, "code", None) == 400):
        return error
    return ApiError(
        f"{request.model.id} refused this chat's history ({error}); its turns were made by "
        f"{request.replaced}, which was shut down. Start a new chat: a plain %%banana cell "
        "with the last picture as a reference ({_banana}), or branch with -c NAME@K from a "
        "turn you want to keep.",
        400,
        getattr(error, "status", ""),
    )


def _result(
    request: Request,
    chat: Chat | None,
    replies: tuple,
    failures: tuple[BananaError, ...],
    previews: tuple,
    start: float,
    *,
    cached: bool,
    at: int,
) -> Result:
    """The result, naming the chat turn it is about to become (``_commit`` records it)."""
    return Result(
        request,
        replies,
        time.perf_counter() - start,
        failures,
        chat=chat.name if chat else None,
        turn=at + 1 if chat else None,
        simulated=offline.is_offline(),
        cached=cached,
        previews=previews,
    )


def _turn_index(request: Request, chat: Chat | None, pick: int | None) -> int:
    """Which turn of ``chat`` this call makes (0-based).

    At the end of the thread, normally. A chat an earlier kernel made is re-run cell by
    cell from its first turn: if this request (with the history before it) is the one
    that made the next turn, the call stands for that turn. If the first cell after a
    restart is something new, it continues where the thread left off.
    """
    from . import cache

    if chat is None:
        return 0
    at = chat.next_turn
    if at == 0 and chat.turns and chat.turns[0].key not in cache.keys_for(request, []):
        return len(chat.turns)
    return at


def _commit(
    request: Request, chat: Chat | None, pick: int | None, replies: tuple, key: str, at: int
) -> tuple[str, ...]:
    """Record the turn in the chat: the one step that changes it, run after every await.

    A re-run cell that asked anew (an edited prompt, ``--fresh``) replaces the turns from
    ``at`` on; the thread as it was is kept first, as a branch. Returns the note saying so.
    """
    from . import wire

    if chat is None:
        return ()
    notes: tuple[str, ...] = ()
    if at < len(chat.turns):
        kept = session().chats.keep_copy(chat)
        last = len(chat.turns)
        replaced = f"turn {last}" if at + 1 == last else f"turns {at + 1}–{last}"
        notes = (
            f"This replaced {replaced} of '{chat.name}'; the thread as it was is kept as "
            f"'{kept}' (%banana chat {kept}).",
        )
    if at == 0:
        chat.model_id = request.model.id
    contents = [reply.content for reply in replies]
    chat.add_turn(request.text, wire.user_content(request), contents, pick, key=key, at=at)
    return notes


def rerun_target(request: Request, chat: Chat, pick: int | None, *, fresh: bool) -> Chat:
    """The chat a cell continues: ``chat``, or the one an earlier run of the cell made.

    A plain cell and a ``-c NAME@K`` branch make a new thread each time they run; when the
    store already answers this request for a thread that began the same way, that thread
    is re-run instead of a copy being made, so a notebook's chats keep their names and
    Run All adds none. ``--fresh`` asks for another take: a thread of its own, as before.
    """
    from . import cache

    s = settings()
    store = open_store_or_none(s.store)
    chats = session().chats
    if fresh or store is None or not s.cache or chats.chats.get(chat.name) is chat:
        return chat
    keys = cache.keys_for(request, chat.history(pick))
    if _lookup(store, keys) is None:
        return chat
    earlier = chats.branch_rerun(chat, keys) if chat.turns else chats.rerun_of(chat, keys)
    if earlier is None:
        return chat
    earlier.position = len(chat.turns)
    return earlier


def _stored(store: Store, key: str, result: Result) -> Result:
    """Record in the store; a full disk or a locked folder costs the record, not the result."""
    from . import cache

    try:
        result.generation_id = cache.record(store, key, result)
    except (OSError, sqlite3.Error) as exc:
        result.notes += (f"Not kept in the store ({type(exc).__name__}: {exc}).",)
    return result


def _check_budget(request: Request, store: Store | None) -> None:
    budget = settings().budget_usd
    if not budget:
        return
    spent = store.totals().cost if store is not None else 0.0
    estimate = estimate_before(
        request.model, request.text, len(request.images), request.count, request.size
    )
    if spent + estimate > budget:
        cheapest = default_model()
        cheaper = "" if cheapest.id == request.model.id else f"-m {cheapest.aliases[0]} or "
        raise BudgetError(
            f"This call (~{format_usd(estimate)}) would take spending to "
            f"{format_usd(spent + estimate)}, over Banana.budget_usd = {format_usd(budget)} "
            f"({format_usd(spent)} spent so far): use {cheaper}fewer images, or raise the "
            "budget with %config Banana.budget_usd."
        )


def submit(
    request: Request, chat: Chat | None = None, *, fresh: bool = False, pick: int | None = None
) -> concurrent.futures.Future[Result]:
    """Start a call without waiting (the panel's way); cancel the future to stop it."""
    from .engine import engine

    return engine().submit(execute_async(request, chat, fresh=fresh, pick=pick))


def execute(
    request: Request,
    chat: Chat | None = None,
    on_tick: Callable[[float], None] | None = None,
    *,
    fresh: bool = False,
    pick: int | None = None,
) -> Result:
    """Run the call and wait; an interrupt cancels it and leaves the chat unchanged."""
    from .engine import engine

    return engine().wait(submit(request, chat, fresh=fresh, pick=pick), on_tick)


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
    request = prepare(
        as_items(prompt), model=model, aspect=aspect, size=size, count=n, search=search,
        thoughts=thoughts, thinking=thinking, chat=chat,
    )  # fmt: skip
    return execute(request, chat, fresh=fresh)


async def agenerate(*prompt: object, **options: Any) -> Result:
    """``generate`` for async code (``await nb_banana.agenerate(...)`` in a notebook)."""
    chat = options.pop("chat", None)
    fresh = options.pop("fresh", False)
    request = prepare(as_items(prompt), count=options.pop("n", None), chat=chat, **options)
    return await asyncio.wrap_future(submit(request, chat, fresh=fresh))
