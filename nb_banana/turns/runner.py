"""The life of one turn, for every face: which chat and turn, key, store, call, commit.

The magic, ``nb_banana.generate`` and the panel describe what they want as an ``Ask``;
``plan`` decides which chat and which turn it is and builds the request and its history,
``from_store`` answers it when the same request was paid for before, ``send`` puts the one
HTTP call on the engine's loop (``send_all`` several turns' calls at once: a comparison's
rows), and ``commit`` records what came back. Only the call runs on the loop: the rest
runs in the caller's thread under the chats' lock, so the kernel's thread and the panel's
worker never change a chat at the same time.

Re-runs are keyed by the notebook cell (``Ask.cell``, Jupyter's cell id): a cell that made
turn K of a chat and runs again unchanged shows turn K from the store and changes nothing;
changed, it asks turn K anew and replaces the turns after it, keeping the old thread as a
branch. Without a cell id (a terminal IPython, plain Python) a re-run is recognised by its
cache key instead, walking the thread from its first turn (``Chat.position``). So is a cell
whose id the notebook never ran (new ids after a jupytext round trip or a copy, or a
notebook first run headless): before it becomes a new turn, the turn its very request made
is looked for (``_same_turn``), and the cell is known by its id from then on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from .. import context as kernel
from ..answer import display  # noqa: F401 - loads how a Result draws itself (display.py)
from ..answer.dry_run import DryRun
from ..answer.previews import make_previews
from ..answer.result import Result
from ..context import open_store, open_store_or_none, session, settings
from ..errors import ApiError, BananaError, OptionError, StoreError
from ..gemini import engine, wire
from ..gemini.models import INLINE_REQUEST_BYTES
from ..gemini.request import Item, Request, build_request
from ..gemini.stream import Watch
from ..gemini.usage import estimate_before
from ..memory import cache
from ..memory.chat import Chat, Chats
from ..memory.session import Hold
from ..memory.store import SIMULATOR, Row, Store
from . import offline
from .budget import reserve


@dataclass(frozen=True)
class Ask:
    """One turn as a face asks for it, before any lookup.

    ``chat``: ``None`` for no chat at all (``generate`` without one), ``""`` for the current
    chat, ``"NAME"``, ``"NAME@K"`` (a branch from turn K), or a ``Chat`` object; with
    ``new_chat`` a new thread is started (a plain ``%%banana`` cell, the panel's Generate).
    """

    items: tuple[Item, ...]
    model: str | None = None
    aspect: str | None = None
    size: str | None = None
    count: int | None = None
    search: tuple[str, ...] | str | bool = ()
    thoughts: bool | None = None
    thinking: str | None = None
    chat: str | Chat | None = None
    new_chat: bool = False
    pick: int | None = None
    fresh: bool = False
    cell: str | None = None
    # A comparison's row (``compare.py``): the model's short name, which names the row's new
    # chat (``chat3-pro``), and the cell's options that this model drops, with a note, if
    # it lacks them.
    row: str = ""
    yielding: frozenset[str] = frozenset()
    # A cell may be a re-run of an earlier one, recognised by its request when it has no
    # known cell id (the key walk). A panel click never is: Generate starts a new chat even
    # when the store answers it, and Continue adds to the end of its thread.
    rerun: bool = True
    # Vertex AI's output options (``-f jpeg|png``, ``--quality``); refused on the Developer API.
    output_format: str = ""
    quality: int | None = None


@dataclass
class Plan:
    """What one ask became: the request, the chat and turn it makes, and its store keys."""

    ask: Ask
    request: Request
    chat: Chat | None
    at: int  # the 0-based turn this call makes
    history: list[Any]
    keys: tuple[str, ...]
    new: bool  # the chat is not registered yet: ``commit`` adds it
    endpoint: str = "gemini"  # who answers (``cache.endpoint_class``): part of the key
    started: float = field(default_factory=time.perf_counter)
    # When its call came back: a comparison commits its rows together, each with its own time.
    done: float | None = None
    # Its estimate, counted against the budget from ``send`` until ``commit`` records it.
    hold: Hold | None = None

    @property
    def replays(self) -> bool:
        """The chat already holds this very turn (a cell re-run unchanged)."""
        chat = self.chat
        if chat is None or self.at >= len(chat.turns):
            return False
        return chat.turns[self.at].key in self.keys


MADE_SQUARE = (
    "Made square: this answer was stored when nb_banana still asked for 1:1 by default; "
    "--fresh asks anew and lets the model keep the picture's shape."
)


def chats() -> Chats:
    return session().chats


def plan(ask: Ask) -> Plan:
    """Choose the chat and turn, build the request (images encoded) and its history.

    A new chat's name is reserved here; if the ask is refused, the name is freed again.
    """
    book = chats()
    with book.lock:
        chat, at, new = _target(ask, book)
        endpoint = offline.endpoint_class()
        try:
            request = _request(ask, chat, at)
            if chat is not None:
                chat.check_model(request.model.id)
            history = chat.history(ask.pick, upto=at) if chat else []
        except BaseException:
            if new and chat is not None:
                book.release(chat)
            raise
        keys = cache.keys_for(request, history, endpoint)
        if chat is not None and ask.rerun and not ask.fresh and not _known_cell(ask, book):
            chat, at, new = _rerun_by_key(ask, book, chat, at, new, request, keys, endpoint)
            history = chat.history(ask.pick, upto=at)
            if ask.cell and not new and (same := _same_turn(ask, chat, request, endpoint)):
                at, request = same
                history = chat.history(ask.pick, upto=at)
                keys = cache.keys_for(request, history, endpoint)
        return Plan(ask, request, chat, at, history, keys, new, endpoint)


def _known_cell(ask: Ask, book: Chats) -> bool:
    """The cell id names a turn this notebook's cell made before (re-runs go by it)."""
    return bool(ask.cell) and book.made_by(ask.cell, _chat_option(ask)) is not None


def _same_turn(ask: Ask, chat: Chat, request: Request, endpoint: str) -> tuple[int, Request] | None:
    """For a cell with an id the notebook never ran (a jupytext round trip, a copied
    notebook, a headless run before): the turn of ``chat`` this very request made, and the
    request as asked there. Only turns with the same prompt are checked, so a new cell pays
    nothing for the look."""
    for at, turn in enumerate(chat.turns):
        if turn.prompt != request.text:
            continue
        there = _request(ask, chat, at)
        if turn.key in cache.keys_for(there, chat.history(ask.pick, upto=at), endpoint):
            return at, there
    return None


def _target(ask: Ask, book: Chats) -> tuple[Chat | None, int, bool]:
    """(chat, turn, not yet registered): from the cell's earlier run, or from ``ask.chat``."""
    if isinstance(ask.chat, Chat):
        return ask.chat, ask.chat.next_turn, False

    made = book.made_by(ask.cell, _chat_option(ask)) if ask.cell else None

    def end(chat: Chat) -> int:  # a known cell's thread is never walked from its start
        return len(chat.turns) if made is not None or not ask.rerun else chat.next_turn

    if ask.chat is None and not ask.new_chat:
        return None, 0, False
    if made is not None and not (ask.fresh and ask.new_chat):
        chat, turn = made
        return chat, turn, False
    model = ask.model or settings().model
    if ask.new_chat:
        return book.new(model, suffix=f"-{ask.row}" if ask.row else ""), 0, True
    name, at, turn = (ask.chat or "").partition("@")
    if at:
        if not turn.isdigit():
            raise OptionError(f"-c {ask.chat}: write NAME@K with K a turn number, e.g. -c "
                              f"{name or 'chat1'}@2.")  # fmt: skip
        branch = book.branch(name or (book.current or ""), int(turn))
        return branch, len(branch.turns), True
    if name:
        known = book.chats.get(name)
        return (known, end(known), False) if known else (book.new(model, name), 0, True)
    current = book.current_chat()
    if current is None:
        print("No chat yet in this notebook: starting a new one.")
        return book.new(model), 0, True
    return current, end(current), False


def _chat_option(ask: Ask) -> str:
    """What the cell said about its chat: a changed ``-c`` makes it a different cell."""
    return "new" if ask.new_chat else f"-c {ask.chat}"


def _request(ask: Ask, chat: Chat | None, at: int) -> Request:
    """Fill unset options from the thread (a follow-up keeps its shape) or the settings.

    An option filled from the notebook-wide settings that the model cannot honour is
    dropped with a note (``defaults``); one the cell or the thread chose is refused.
    """
    s = settings()
    before = chat.turns[at - 1].options if chat is not None and 0 < at <= len(chat.turns) else {}
    model = ask.model or (chat.model_id if chat is not None and chat.turns else s.model)
    chosen = {
        "aspect": ask.aspect or before.get("aspect") or None,
        "size": ask.size or before.get("size") or None,
        "thinking": ask.thinking if ask.thinking is not None else before.get("thinking"),
        "thoughts": ask.thoughts,
    }
    defaults = frozenset(name for name, value in chosen.items() if value is None)
    if (ask.output_format or ask.quality is not None) and not offline.on_vertex():
        raise OptionError(VERTEX_ONLY_OUTPUT)
    return build_request(
        [utf8_safe(item) if isinstance(item, str) else item for item in ask.items],
        model=model,
        aspect=chosen["aspect"] or s.aspect,
        size=chosen["size"] or s.size,
        count=s.count if ask.count is None else ask.count,
        search=ask.search,
        thoughts=s.thoughts if ask.thoughts is None else ask.thoughts,
        thinking=s.thinking if chosen["thinking"] is None else chosen["thinking"],
        defaults=defaults,
        yielding=ask.yielding,
        output_format=ask.output_format,
        quality=ask.quality,
    )


VERTEX_ONLY_OUTPUT = (
    "-f/--format and --quality are Vertex AI options (imageOutputOptions): the Gemini "
    "Developer API answers in the model's own format (Pro: JPEG; others: PNG). Drop them, "
    'or use Vertex AI: %config Banana.backend = "vertex".'
)


def utf8_safe(text: str) -> str:
    """Text that encodes as UTF-8: split surrogate pairs joined, a lone one (a broken paste
    or a frontend's half emoji) replaced by U+FFFD, instead of failing after validation."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _rerun_by_key(
    ask: Ask, book: Chats, chat: Chat, at: int, new: bool, request: Request,
    keys: tuple[str, ...], endpoint: str,
) -> tuple[Chat, int, bool]:  # fmt: skip
    """Without a cell id: recognise a re-run by the request's key.

    A plain cell or a ``NAME@K`` branch whose request the store answered for a thread that
    began the same way is given that thread; a thread read back after a restart is walked
    from its first turn, so Run All re-runs it instead of adding to it.
    """
    if new:
        store = _store()
        if store is None or not settings().cache or _lookup(store, keys, endpoint) is None:
            return chat, at, new
        earlier = book.branch_rerun(chat, keys) if chat.turns else book.rerun_of(chat, keys)
        if earlier is None:
            return chat, at, new
        book.release(chat)
        earlier.position = len(chat.turns)
        return earlier, earlier.next_turn, False
    if at == 0 and chat.turns and chat.turns[0].key not in cache.keys_for(request, [], endpoint):
        return chat, len(chat.turns), new
    return chat, at, new


def dry_run(ask: Ask) -> DryRun:
    """The request as it would go out, its cost, and whether the store would answer it."""
    planned = plan(ask)
    release(planned)
    request = planned.request
    store = _store()
    estimate = estimate_before(
        request.model, request.text, len(request.images), request.count, request.size
    )
    return DryRun(
        request,
        planned.at,
        engine.endpoint(settings().base_url, offline.vertex_target()),
        wire.rest_body(request, planned.history),
        estimate,
        cached=store is not None
        and settings().cache
        and _lookup(store, planned.keys, planned.endpoint) is not None,
    )


def from_store(plan: Plan) -> Result | None:
    """The stored answer to this very request (no call, no cost), recorded as the turn.

    Only a complete answer from the same endpoint class counts; a row whose image files
    are gone, or a store that cannot be read, is a miss: the call is made, and its answer
    repairs the store.
    """
    store = _store()
    if store is None or not settings().cache or plan.ask.fresh:
        return None
    try:
        row = _lookup(store, plan.keys, plan.endpoint)
        if row is None:
            return None
        replies, previews = cache.rebuild(store, row, plan.request)
    except StoreError:
        return None
    result = _result(plan, replies, (), previews, cached=True, endpoint=row.endpoint)
    if cache.made_square(plan.request, row):
        result.notes += (MADE_SQUARE,)
    book = chats()
    with book.lock:
        if plan.chat is not None and plan.replays:
            book.replayed(plan.chat, plan.at, plan.ask.pick, plan.ask.cell, _chat_option(plan.ask))
        else:
            result.notes += _commit_turn(plan, replies)
    session().account(result)
    return result


def _lookup(store: Store, keys: tuple[str, ...], endpoint: str) -> Row | None:
    return next((row for key in keys if (row := store.lookup(key, endpoint))), None)


def streams(plan: Plan) -> bool:
    """Whether the call goes out as a stream: one picture with the thoughts asked for, so
    the cell can show them as they come. ``-n N``, ``--each``, comparisons and batches
    never stream (docs/architecture.md, "Streaming")."""
    return plan.request.thoughts and plan.request.count == 1


def send(
    plan: Plan, *, paced: bool = False, watch: Watch | None = None
) -> concurrent.futures.Future[list[Any]]:
    """Put the HTTP call on the engine's loop; the one step that runs there.

    ``paced``: a run of many calls (``each``) that answers 429 itself, pausing all its
    calls for the delay the server names. The SDK's retry would instead back off each call
    on its own clock, blind to that delay, so for such calls it retries only 5xx and
    timeouts, and the 429 comes back at once. ``watch``: the call goes out as a stream
    and posts what has come so far there.
    """

    _check_weight(plan)
    _hold([plan])
    try:
        future = kernel.engine().submit(_call(plan, paced, watch)())
    except BaseException:
        _unhold([plan])
        raise
    future.add_done_callback(lambda done: _unhold_unless_answered(done, [plan]))
    return future


def _check_weight(plan: Plan) -> None:
    """Refuse, before sending, a turn whose request would pass the API's inline limit: a
    long chat sends every earlier picture and thought signature back with each turn."""
    size = wire.body_bytes(wire.contents(plan.request, plan.history))
    if size <= INLINE_REQUEST_BYTES:
        return
    name = plan.chat.name if plan.chat is not None else ""
    raise OptionError(
        f"Turn {plan.at + 1} of chat '{name}' would send {size / 1e6:.1f} MB, past the API's "
        f"{INLINE_REQUEST_BYTES / 1e6:.0f} MB per request (its history goes back with every "
        "turn): start a new chat from the last picture (a plain %%banana cell with "
        f"{{_banana}}), or branch from a later turn (-c {name}@K)."
    )


def send_all(plans: Sequence[Plan]) -> concurrent.futures.Future[list[list[Any]]]:
    """Several turns' calls in flight together (a comparison's rows), as one future: one
    interrupt or Stop cancels them all. The budget counts them together."""

    for planned in plans:
        _check_weight(planned)
    _hold(plans)
    try:
        calls = [_call(planned) for planned in plans]
    except BaseException:
        _unhold(plans)
        raise

    async def together() -> list[list[Any]]:
        tasks = [asyncio.ensure_future(call()) for call in calls]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            raise

    future = kernel.engine().submit(together())
    future.add_done_callback(lambda done: _unhold_unless_answered(done, plans))
    return future


def _hold(plans: Sequence[Plan]) -> None:
    """Check each call against the budget, counting the ones before it as in flight; if
    one would pass it, none is counted and ``BudgetError`` is raised: nothing is sent."""
    store = _store()
    try:
        for planned in plans:
            planned.hold = reserve(planned.request, store, planned.endpoint)
    except BaseException:
        _unhold(plans)
        raise


def _unhold(plans: Sequence[Plan]) -> None:
    """The calls no longer count as in flight: recorded as spent, or came to nothing."""
    for planned in plans:
        if planned.hold is not None:
            planned.hold.release()


def _unhold_unless_answered(future: concurrent.futures.Future, plans: Sequence[Plan]) -> None:
    """A call cancelled or failed as a whole is no longer in flight; one that answered
    stays counted until ``commit`` has recorded what it cost."""
    if future.cancelled() or future.exception() is not None:
        _unhold(plans)


def _call(
    plan: Plan, paced: bool = False, watch: Watch | None = None
) -> Callable[[], Coroutine[Any, Any, list[Any]]]:
    """The plan's ``count`` samples as a coroutine to run on the engine's loop; made here,
    in the caller's thread, so that a missing key is reported before anything is sent."""
    s = settings()
    eng = kernel.engine()
    client = offline.current_client()
    config = wire.config(
        plan.request, timeout=s.timeout, retries=s.retries, retry_delay=s.retry_delay,
        paced=paced,
    )  # fmt: skip
    context = {
        "endpoint": engine.endpoint(s.base_url, offline.vertex_target()),
        "timeout": s.timeout,
        "attempts": s.retries + 1,
        "vertex": offline.vertex_target(),
    }

    async def call() -> list[Any]:
        limit = eng.semaphore(s.max_concurrency)
        if watch is not None:
            outcomes = await engine.run_stream(
                client, plan.request, plan.history, config, limit, context, watch
            )
        else:
            outcomes = await engine.run_samples(
                client, plan.request, plan.history, config, limit, context
            )
        plan.done = time.perf_counter()
        return outcomes

    return call


def commit(plan: Plan, outcomes: Sequence[Any], thumb_px: int | None = None) -> Result:
    """Record a finished call: previews, the store, then the chat; never loses the result.
    ``thumb_px``: the previews carry thumbnails of that size too (a contact sheet's)."""
    try:
        return _commit(plan, outcomes, thumb_px)
    finally:
        _unhold([plan])


def _commit(plan: Plan, outcomes: Sequence[Any], thumb_px: int | None) -> Result:
    replies = tuple(o for o in outcomes if isinstance(o, wire.Reply))
    failures = tuple(o for o in outcomes if isinstance(o, BananaError))
    if not replies:
        raise _explained(failures[0], plan)
    outs = [(image.data, image.mime_type) for reply in replies for image in reply.images]
    previews = tuple(make_previews(outs, settings().preview_px, thumb_px))
    result = _result(plan, replies, failures, previews, cached=False)
    store = _store()
    with store.one_answer() if store is not None else nullcontext():
        kept = store is not None and _stored(store, plan, result)
        if store is None:
            result.notes += (f"Not kept in the store: {_unopened()}",)
        book = chats()
        with book.lock:
            result.notes += _commit_turn(plan, replies)
            if book.save_failed is not None and kept:
                result.notes += (f"The chat is kept in this kernel only: {book.save_failed}",)
            book.save_failed = None
    session().account(result)
    return result


def release(plan: Plan) -> None:
    """A call that came to nothing: free the new chat's reserved name, and its place in
    the budget."""
    _unhold([plan])
    if plan.new and plan.chat is not None:
        chats().release(plan.chat)


def run(ask: Ask, on_tick: Callable[[float], None] | None = None) -> Result:
    """The whole turn, waiting; an interrupt cancels the call and changes nothing."""
    return finish(plan(ask), on_tick)


def finish(
    planned: Plan, on_tick: Callable[[float], None] | None = None, watch: Watch | None = None
) -> Result:
    """A planned turn from the store, or called and committed, waiting for it.

    A call that ``streams`` posts its chunks to ``watch`` (one of its own if none is given)
    and ``on_tick`` runs as each arrives, so a face can show them.
    """

    try:
        stored = from_store(planned)
        if stored is not None:
            return stored
        if not streams(planned):
            return commit(planned, kernel.engine().wait(send(planned), on_tick))
        watch = watch or Watch()
        future = send(planned, watch=watch)
        return commit(planned, kernel.engine().wait(future, on_tick, wake=watch.changed))
    except BaseException:
        release(planned)
        raise


def _result(
    plan: Plan,
    replies: tuple,
    failures: tuple[BananaError, ...],
    previews: tuple,
    *,
    cached: bool,
    endpoint: str | None = None,
) -> Result:
    """The result, naming the chat turn it is about to become; ``endpoint``: the class
    that made a stored answer (``None`` for an old row: the real service)."""
    return Result(
        plan.request,
        replies,
        (plan.done or time.perf_counter()) - plan.started,
        failures,
        chat=plan.chat.name if plan.chat else None,
        turn=plan.at + 1 if plan.chat else None,
        simulated=(endpoint if cached else plan.endpoint) == SIMULATOR,
        cached=cached,
        previews=previews,
    )


def _commit_turn(plan: Plan, replies: tuple) -> tuple[str, ...]:
    """Record the turn in the chat: the one step that changes it (caller holds the lock).

    A re-run cell that asked anew (an edited prompt, ``--fresh``) replaces the turns from
    ``at`` on; the thread as it was is kept first, as a branch. Returns the note saying so.
    """
    chat = plan.chat
    if chat is None:
        return ()
    book = chats()
    notes: tuple[str, ...] = ()
    if plan.at < len(chat.turns) and not _asked_again(plan, chat):
        kept = book.keep_copy(chat)
        last = len(chat.turns)
        replaced = f"turn {last}" if plan.at + 1 == last else f"turns {plan.at + 1}–{last}"
        notes = (
            f"This replaced {replaced} of '{chat.name}'; the thread as it was is kept as "
            f"'{kept}' (%banana chat {kept}).",
        )
    if plan.at == 0:
        chat.model_id = plan.request.model.id
    req = plan.request
    options = {"aspect": req.aspect, "size": req.size, "thinking": req.thinking}
    contents = [reply.content for reply in replies]
    chat.add_turn(req.text, wire.user_content(req), contents, plan.ask.pick, key=plan.keys[0],
                  at=plan.at, options=options)  # fmt: skip
    book.add(chat)
    book.record_cell(plan.ask.cell, _chat_option(plan.ask), chat, plan.at)
    return notes


def _explained(error: BananaError, plan: Plan) -> BananaError:
    """A refused history that a shut-down model made: say why, and what works instead (a
    new chat from the picture; a branch keeps the old model's turns and is refused alike)."""
    request = plan.request
    if not (plan.history and request.replaced and getattr(error, "code", None) == 400):
        return error
    return ApiError(
        f"{request.model.id} refused this chat's history ({error}); its turns were made by "
        f"{request.replaced}, which was shut down, and a branch (-c NAME@K) would carry the "
        "same history. Start a new chat from its last picture: a plain %%banana cell that "
        "names it as a reference ({_banana}, or the name you bound it to with -o).",
        400,
        getattr(error, "status", ""),
    )


def _asked_again(plan: Plan, chat: Chat) -> bool:
    """The last turn asked again as it was (its stored answer had a failed sample, or its
    pictures were gone): replaced in place, with no branch kept."""
    last = len(chat.turns) - 1
    return plan.at == last and not plan.ask.fresh and chat.turns[last].key in plan.keys


def _stored(store: Store, plan: Plan, result: Result) -> bool:
    """Record in the store; a full disk or a locked folder costs the record, not the result."""
    try:
        result.generation_id = cache.record(store, plan.keys[0], result, plan.endpoint)
    except StoreError as exc:
        result.notes += (f"Not kept in the store: {exc}",)
        return False
    return True


def _unopened() -> str:

    try:
        open_store(settings().store)
    except StoreError as exc:
        return str(exc)
    return f"{settings().store} could not be opened."


def _store() -> Store | None:
    return open_store_or_none(settings().store)
