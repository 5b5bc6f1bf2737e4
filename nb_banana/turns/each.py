"""Many pictures at once: one cell asked once per element of a list (``%%banana --each``).

``elements`` expands a cell (or ``generate_each``'s template) and a list into one
``turns.Ask`` per element: ``{item}`` is the element, a dict element's keys fill ``{key}``,
every other ``{name}`` is the notebook's. ``run`` asks for them all through the turn runner
(``plan`` → ``from_store`` → ``send`` → ``commit``), the same path as a single cell.

Elements and chats: each element is a standalone generation, never a chat turn, and ``-c``
with ``--each`` is refused. A chat per element would bury ``%banana chats`` under one-turn
threads; one chat for all would make element K wait for K-1 and depend on it. Standalone,
an element is keyed and stored like any call: a re-run (after an interrupt, a failure or a
kernel restart) answers the finished elements from the store and asks only for the rest.
An element that repeats an earlier one (``['a cat in a hat'] * 3``) is keyed by its take
as well (``Takes``): each is its own picture, paid once, and read back as itself.

Rate limits are the run's business. ``Banana.max_concurrency`` bounds the calls in flight
and ``Banana.rpm`` the calls started in any minute. A 429 pauses the whole run for the
delay the server names (``RetryInfo.retryDelay``, else ``Retry-After``), then that element
is asked again, up to ``Banana.retries`` times. The SDK's own retry is told to leave 429
alone for these calls (``turns.send(paced=True)``): it would back off per call, blind to
the server's delay, while the other calls went on hitting the limit. 5xx and timeouts are
still retried by the SDK. A refusal (safety, no image) is recorded for its element and not
asked again in the run; an error every element would meet (the key, the model, the budget,
a folder ``--save`` cannot write) stops the run.

The kernel's interrupt stops the run between elements: calls in flight are cancelled, and
whatever finished is in the store and in the result. Answers go to the store as they come;
the result (``each_result.EachResult``) keeps only thumbnails and reads full images back
from the store when asked.
"""

from __future__ import annotations

import collections
import concurrent.futures
import difflib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..answer.each_result import THUMB_PX, Done, EachResult, Failure
from ..answer.files import extension_for
from ..answer.result import Result
from ..context import engine, open_store, settings
from ..errors import (
    ApiError,
    BananaError,
    BudgetError,
    OptionError,
    SetupError,
    StoreError,
    TransientError,
)
from ..gemini.prompt import Ref, parse
from ..gemini.request import Item, items_from_prompt
from ..memory import cache
from ..memory.store import cache_key
from . import runner as turns

ITEM = "item"  # the name the current element goes by in the cell
_TICK = 0.1  # seconds between looks at the interrupt and the progress clock
_REPORT_EVERY = 0.5  # seconds between progress updates when nothing finished
_STOPS_THE_RUN = (401, 403, 404)  # the key or the model: every element would fail alike


@dataclass(frozen=True)
class Element:
    """One element of a run: its place in the list, a short label, and what it asks.

    ``ask`` is a standalone ``turns.Ask`` (no chat); ``turns.plan(element.ask)`` gives its
    request and store keys, which is all a live run or a Batch API job needs.
    """

    index: int
    label: str
    ask: turns.Ask


def elements(
    template: str,
    values: object,
    ns: Mapping[str, object],
    base: turns.Ask | None = None,
    name: str = "items",
) -> list[Element]:
    """The cell ``template`` asked once per element of ``values``, in order.

    ``values``: a list, a tuple or a pandas Series of strings, images (anything ``{name}``
    takes) or dicts. ``base`` carries the options and attached images (``-i``) every
    element shares; its chat is ignored. ``name`` is the list's variable name, for labels
    (``photos[3]``) and messages. Unknown ``{name}``s, an empty list, or a cell that never
    mentions the element are refused here, before anything is sent.
    """
    listed = _as_list(values, name)
    if not listed:
        raise OptionError(f"--each {name}: {name} is empty, so there is nothing to ask for.")
    base = replace(base or turns.Ask(()), chat=None, new_chat=False, pick=None)
    mentioned = {segment.name for segment in parse(template) if isinstance(segment, Ref)}
    return [_element(template, value, i, ns, base, f"{name}[{place}]", mentioned, name)
            for i, (place, value) in enumerate(listed)]  # fmt: skip


def lookup(ns: Mapping[str, object], name: str) -> object:
    """The notebook variable ``--each NAME`` names, or one line saying what it might be."""
    if name in ns:
        return ns[name]
    close = difflib.get_close_matches(name, [k for k in ns if not k.startswith("_")], n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise OptionError(f"--each {name}: {name} is not defined in the notebook.{hint}")


def _as_list(values: object, name: str) -> list[tuple[int, object]]:
    """The elements in order, each with its place in ``values``: a list or tuple as it is,
    a pandas Series by position (duck-typed, so pandas is never imported), an earlier run's
    results less its failures (each keeping its place there, which names it: ``base[1]``)."""
    if isinstance(values, list | tuple):
        return list(enumerate(values))
    if isinstance(values, EachResult):
        return [(place, result) for place, result in enumerate(values) if result is not None]
    if hasattr(values, "iloc") and not hasattr(values, "columns"):
        return list(enumerate(values))  # type: ignore[call-overload]
    frame = ""
    if hasattr(values, "columns"):
        frame = " (for a DataFrame's rows, pass df.to_dict('records'))"
    raise OptionError(
        f"--each {name}: {name} is a {type(values).__name__}; --each takes a list, a tuple "
        f"or a pandas Series{frame}."
    )


def _element(
    template: str, value: object, index: int, ns: Mapping[str, object], base: turns.Ask,
    own: str, mentioned: set[str], name: str,
) -> Element:  # fmt: skip
    """Element ``index`` of the run; ``own`` is what it goes by (``photos[3]``)."""
    fields = {}
    if isinstance(value, dict):
        fields = {key: v for key, v in value.items() if isinstance(key, str)}
    if not mentioned & {ITEM, *fields}:
        keys = f" or one of its keys ({', '.join('{' + k + '}' for k in fields)})" if fields else ""
        raise OptionError(
            f"--each {name}: the cell never mentions {{{ITEM}}}{keys}, so every element would "
            f"ask the same thing: write {{{ITEM}}} where the element goes."
        )
    # Read through, never copied: a notebook's namespace is large and a list may be long.
    scope = collections.ChainMap({ITEM: value}, fields, ns)  # type: ignore[arg-type]
    items = [_renamed(item, own) for item in items_from_prompt(template, scope)]
    return Element(index, _label(value, own), replace(base, items=(*items, *base.items)))


def _renamed(item: Item, own: str) -> Item:
    """``{item}`` as an image goes by ``photos[3]`` in captions and dry runs."""
    if isinstance(item, tuple) and item[0] == ITEM:
        return (own, item[1])
    return item


def _label(value: object, own: str, limit: int = 40) -> str:
    """A short label: the text (a dict's texts), or the variable's name and index."""
    if isinstance(value, dict):
        texts = [v for v in value.values() if isinstance(v, str)]
        value = " · ".join(texts) if texts else None
    if not isinstance(value, str) or not value.strip():
        return own
    flat = " ".join(turns.utf8_safe(value).split())  # shown and saved: a lone surrogate is not
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Takes:
    """Each element its own take: the K-th element asking what an earlier one asked.

    ``['a cat in a hat'] * 3`` pays for three pictures; keyed by the request alone, all three
    would be stored under one key and read back as one (the newest). The second and third
    repeats are keyed by the request and their take (1, 2), so each element is stored,
    answered on re-run and after a restart, shown and saved as its own picture. The first
    keeps the request's own key, shared with a single cell asking the same.
    """

    def __init__(self) -> None:
        self._seen: collections.Counter[str] = collections.Counter()
        self._take: dict[int, int] = {}  # element index -> take, fixed at its first plan

    def own(self, index: int, planned: turns.Plan) -> turns.Plan:
        """``planned`` with the keys of element ``index``'s take (planned again after a 429,
        an element keeps the take it had)."""
        if index not in self._take:
            self._take[index] = self._seen[planned.keys[0]]
            self._seen[planned.keys[0]] += 1
        take = self._take[index]
        if take == 0:
            return planned
        keys = tuple(cache_key({"key": key, "take": take}) for key in planned.keys)
        return replace(planned, keys=keys)


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for the progress display: counts, time, cost so far."""

    done: int
    failed: int
    total: int
    elapsed: float
    eta: float | None  # seconds, once a live answer gives a pace
    cost: float
    paused: float = 0.0  # seconds left of a rate-limit pause


class Pacer:
    """When the next calls may start, and how many may be in flight.

    At most ``rpm`` start in any 60 s (0: no limit), none while a rate-limit pause lasts,
    and at most ``room`` are in flight. ``room`` is ``limit`` until a 429; each 429 halves
    it (down to one call), and each call the server admits widens it by one (doubling it
    every round trip, as TCP's congestion control does). The server's delay frees at least
    one place in its window, not necessarily eight: sent all at once when the pause ends,
    a full burst could be refused again, each refusal costing one of the element's retries;
    starting again from one call would waste round trips when the window has emptied.
    """

    def __init__(self, rpm: int, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rpm = rpm
        self.limit = limit
        self.room = limit
        self.clock = clock
        self._starts: collections.deque[float] = collections.deque()
        self._until = 0.0

    def wait(self, calls: int) -> float:
        """Seconds until ``calls`` more may start (0: now)."""
        now = self.clock()
        delay = max(0.0, self._until - now)
        if self.rpm:
            while self._starts and self._starts[0] <= now - 60:
                self._starts.popleft()
            over = len(self._starts) + calls - self.rpm
            if over > 0 and self._starts:
                oldest_to_leave = self._starts[min(over, len(self._starts)) - 1]
                delay = max(delay, oldest_to_leave + 60 - now)
        return delay

    def started(self, calls: int) -> None:
        self._starts.extend([self.clock()] * calls)

    def pause(self, seconds: float) -> None:
        """A 429: hold every start for ``seconds`` (a pause already longer stands), then
        start again with half as many calls in flight."""
        self._until = max(self._until, self.clock() + seconds)
        self.room = max(1, self.room // 2)

    def admitted(self) -> None:
        """A call the server took (whatever it answered): one more may be in flight."""
        self.room = min(self.limit, self.room + 1)

    @property
    def paused(self) -> float:
        return max(0.0, self._until - self.clock())


def run(
    items: Sequence[Element],
    on_progress: Callable[[Progress], None] | None = None,
    *,
    save: str | Path | None = None,
    overwrite: bool = False,
) -> EachResult:
    """Ask for every element, paced, and return what came back in element order.

    ``save``: a folder; element K's images are written there as ``KK.png`` (two digits at
    least, whatever the list's length; ``KK-1.png``, ``KK-2.png`` with ``-n``; the reply's
    own extension) as they arrive. A file already there is kept
    unless ``overwrite``, so a resumed run does not redo the files of the first.
    """
    saver = _Saver(Path(save).expanduser(), overwrite) if save else None
    state = _Run(items, on_progress or (lambda progress: None), saver)
    with _interrupt_noted() as interrupted:
        state.loop(interrupted)
    return state.result()


class _Run:
    """One run's state, driven from the caller's thread. The calls run on the engine's loop;
    committing each answer (previews, the store, the thumbnail, ``--save``) runs on two
    worker threads, since decoding, encoding and fsync release the GIL: on the caller's
    thread alone, eight answers every 200 ms would queue behind each other's commits."""

    def __init__(
        self, items: Sequence[Element], report: Callable[[Progress], None], saver: _Saver | None
    ) -> None:
        s = settings()
        self.items = tuple(items)
        self.pending: collections.deque[Element] = collections.deque(items)
        self.ready: tuple[Element, turns.Plan] | None = None  # planned, waiting for room
        self.flight: dict[concurrent.futures.Future, tuple[Element, turns.Plan]] = {}
        self.keeping: dict[concurrent.futures.Future, tuple[Element, bool]] = {}  # bool: live
        self.workers = concurrent.futures.ThreadPoolExecutor(2, "nb_banana-each")
        self.done: dict[int, Done] = {}
        self.failed: dict[int, Failure] = {}
        self.rate_limited: collections.Counter[int] = collections.Counter()
        self.pacer = Pacer(s.rpm, s.max_concurrency)
        self.takes = Takes()
        self.limit, self.retries, self.retry_delay = s.max_concurrency, s.retries, s.retry_delay
        self.report, self.saver = report, saver
        self.started = time.monotonic()
        self.first_call: float | None = None
        self.live = 0  # answers that came from calls (the pace the ETA uses)
        self.reported = (0, 0, self.started)  # done, failed, when: the last report
        self.stopped: BananaError | None = None
        self.interrupted = False

    def loop(self, interrupted: Callable[[], bool]) -> None:
        try:
            while self._busy() and not self.stopped:
                if interrupted():
                    self.interrupted = True
                    break
                self._start(interrupted)
                self._collect()
                self._progress()
        finally:
            self._drain()
            self.workers.shutdown()
            self._progress()

    def _busy(self) -> bool:
        return bool(self.pending or self.ready or self.flight or self.keeping)

    def _start(self, interrupted: Callable[[], bool]) -> None:
        """Start what the limits allow; answer from the store what it holds.

        No call starts while more than half of ``max_concurrency`` answers wait to be
        committed, so a slow disk holds the run back instead of filling memory.
        """
        while (self.pending or self.ready) and not self.stopped and not interrupted():
            if len(self.keeping) > self.limit // 2:
                return
            if self.ready is None:
                element = self.pending.popleft()
                planned = self._plan(element)
                if planned is None or self._from_store(element, planned):
                    continue
                self.ready = (element, planned)
            element, planned = self.ready
            calls = planned.request.count
            in_flight = sum(p.request.count for _, p in self.flight.values())
            if (in_flight and in_flight + calls > self.pacer.room) or self.pacer.wait(calls) > 0:
                return
            self.ready = None
            if not self._send(element, planned):
                return

    def _plan(self, element: Element) -> turns.Plan | None:
        try:
            return self.takes.own(element.index, turns.plan(element.ask))
        except BananaError as error:
            self._failed(element, error)
            return None

    def _from_store(self, element: Element, planned: turns.Plan) -> bool:
        result = turns.from_store(planned)
        if result is None:
            return False
        self._keep(element, planned, lambda: result, live=False)
        return True

    def _send(self, element: Element, planned: turns.Plan) -> bool:
        """Send one element's call; ``False``: nothing more may start for now."""
        try:
            future = turns.send(planned, paced=True)
        except BananaError as error:  # the budget, the key: before anything went out
            if isinstance(error, BudgetError) and (self.flight or self.keeping):
                self.ready = (element, planned)  # asked again once their bills are in
            else:
                self._failed(element, error)
            return False
        self.pacer.started(planned.request.count)
        self.flight[future] = (element, planned)
        if self.first_call is None:  # the run is under way: the progress display appears
            self.first_call = time.monotonic()
            self._progress(force=True)
        return True

    def _collect(self) -> None:
        """Wait a tick for a call or a commit to finish (or for the pacer), and take it."""
        waiting = [*self.flight, *self.keeping]
        if not waiting:  # only the pacer holds the next call back
            calls = self.ready[1].request.count if self.ready else 1
            time.sleep(min(_TICK, self.pacer.wait(calls)))
            return
        finished, _ = concurrent.futures.wait(
            waiting, timeout=_TICK, return_when=concurrent.futures.FIRST_COMPLETED
        )
        for future in finished:
            if future in self.flight:
                self._answered(future)
            else:
                self._record(future)

    def _answered(self, future: concurrent.futures.Future) -> None:
        element, planned = self.flight.pop(future)
        self._keep(element, planned, lambda: _committed(planned, future), live=True)

    def _keep(
        self, element: Element, planned: turns.Plan, answer: Callable[[], Result], live: bool
    ) -> None:
        work = self.workers.submit(self._kept, element, planned, answer)
        self.keeping[work] = (element, live)

    def _kept(
        self, element: Element, planned: turns.Plan, answer: Callable[[], Result]
    ) -> tuple[Done | None, BananaError | None]:
        """On a worker: the result committed, its thumbnails and files; what went wrong."""
        try:
            result = answer()
        except BananaError as error:
            return None, error
        done = _done(element, planned, result)
        if self.saver is not None:
            try:
                self.saver.save(element.index, result)
            except BananaError as error:
                return done, error
        return done, None

    def _record(self, work: concurrent.futures.Future) -> None:
        element, live = self.keeping.pop(work)
        done, error = work.result()
        if live and not _rate_limited(error):
            self.pacer.admitted()
        if done is not None:
            self.done[element.index] = done
            self.live += live
            if error is not None:  # saving failed: the folder would fail every element
                self.stopped = error
        elif error is not None:
            self._failed(element, error)
        self._progress()

    def _failed(self, element: Element, error: BananaError) -> None:
        """A 429 pauses the run and asks again; an error all would meet stops the run."""
        if _rate_limited(error):
            self.rate_limited[element.index] += 1
            tries = self.rate_limited[element.index]
            if tries <= self.retries:
                self.pacer.pause(error.retry_after or self.retry_delay * 2 ** (tries - 1))
                self._again(element)
                return
            reason = (
                f"rate limit reached (429) on all {tries} attempts, each after the pause the "
                f"server asked for: re-run the cell later to ask for it, or {_rpm_fix()}."
            )
        elif _stops_the_run(error):
            self.stopped = error
            self._again(element)
            return
        else:
            reason = str(error)
        self.failed[element.index] = Failure(element.index, element.label, reason)

    def _again(self, element: Element) -> None:
        """Put ``element`` first in line again, ahead of the one planned to go next."""
        if self.ready is not None:
            self.pending.appendleft(self.ready[0])
            self.ready = None
        self.pending.appendleft(element)

    def _drain(self) -> None:
        """Cancel the calls in flight (one that had already finished is committed), and
        wait for every commit under way: an answer that came back is never dropped."""

        if self.flight:
            eng = engine()
            for future in self.flight:
                eng.cancel(future)
            concurrent.futures.wait(self.flight, timeout=1.0)
            for future in list(self.flight):
                if future.done() and not future.cancelled() and future.exception() is None:
                    self._answered(future)
            self.flight.clear()
        for work in concurrent.futures.as_completed(list(self.keeping)):
            self._record(work)

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        counts = (len(self.done), len(self.failed))
        if not force and counts == self.reported[:2] and now - self.reported[2] < _REPORT_EVERY:
            return
        self.reported = (*counts, now)
        self.report(self._snapshot(now))

    def _snapshot(self, now: float) -> Progress:
        left = len(self.items) - len(self.done) - len(self.failed)
        eta = None
        if self.live and self.first_call is not None:
            eta = left * (now - self.first_call) / self.live
        cost = sum(done.cost for done in self.done.values())
        return Progress(len(self.done), len(self.failed), len(self.items), now - self.started,
                        eta, cost, self.pacer.paused)  # fmt: skip

    def result(self) -> EachResult:
        saved = (tuple(sorted(self.saver.saved)), self.saver.kept) if self.saver else ((), 0)
        return EachResult(
            self.items, self.done, self.failed, time.monotonic() - self.started,
            interrupted=self.interrupted, stopped=self.stopped, saved=saved[0], kept=saved[1],
            load=load_result,
        )  # fmt: skip


def load_result(element: Element, done: Done) -> Result:
    """An element's whole result, its pictures read back from the store: what an
    ``EachResult`` calls to give ``result[K]``."""
    if done.kept is not None:
        return done.kept
    store = open_store(settings().store)
    row = next((r for key in done.keys if (r := store.lookup(key, done.endpoint))), None)
    if row is None:
        raise StoreError(
            f"The answer to element #{element.index} ({element.label}) is no longer in the "
            f"store {store.root}: re-run the cell to ask for it again."
        )
    request = turns.plan(element.ask).request
    replies, previews = cache.rebuild(store, row, request)
    return Result(request, replies, done.elapsed, simulated=done.simulated, cached=done.cached,
                  previews=previews, generation_id=row.id)  # fmt: skip


def _rpm_fix() -> str:
    """How to start fewer calls a minute: lower ``Banana.rpm``, or set it when unset."""
    rpm = settings().rpm
    if rpm:
        return f"lower %config Banana.rpm (now {rpm})"
    return "set %config Banana.rpm (calls a minute; 0, the default, sets no limit)"


def _committed(planned: turns.Plan, call: concurrent.futures.Future) -> Result:
    """A call's answer recorded, its previews made with the contact sheet's thumbnails."""
    return turns.commit(planned, call.result(), THUMB_PX)


def _done(element: Element, planned: turns.Plan, result: Result) -> Done:
    return Done.of(element.index, planned.keys, planned.endpoint, result)


def _rate_limited(error: BananaError | None) -> bool:
    return isinstance(error, TransientError) and error.code == 429


def _stops_the_run(error: BananaError) -> bool:
    """The key, the model, the options or the budget: every element would meet it."""
    if isinstance(error, SetupError | OptionError | BudgetError):
        return True
    return isinstance(error, ApiError) and error.code in _STOPS_THE_RUN


@contextmanager
def _interrupt_noted() -> Iterator[Callable[[], bool]]:
    """The kernel's interrupt, noted instead of raised while the run holds the thread.

    A ``KeyboardInterrupt`` raised in the middle of a commit would leave an element in the
    store but not in the result; noted, the run stops between elements. A second interrupt
    raises as usual, so a run stuck in a commit can still be stopped. Signals reach only the
    main thread: elsewhere there is nothing to note.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield lambda: False
        return
    noted: list[bool] = []

    def note(signum: int, frame: Any) -> None:
        if noted:
            raise KeyboardInterrupt
        noted.append(True)

    signal.signal(signal.SIGINT, note)
    try:
        yield lambda: bool(noted)
    finally:
        signal.signal(signal.SIGINT, previous)


class _Saver:
    """``--save DIR`` for a run: element K's images as ``KK.ext``, written as they arrive
    (by the run's worker threads, hence the lock).

    The name depends on the element alone, never on the list's length: at least two digits
    (``00`` … ``99``), more only past 99, so a list that grows keeps the names (and files)
    of the elements it had. The extension is the reply's own format (``.jpg`` for a JPEG).
    """

    def __init__(self, folder: Path, overwrite: bool) -> None:
        self.folder, self.overwrite = folder, overwrite
        self.saved: list[Path] = []
        self.kept = 0  # files already there, left as they were
        self._lock = threading.Lock()

    def save(self, index: int, result: Result) -> None:
        target = self.folder / f"{index:02d}{extension_for(result.outputs[0].mime_type)}"
        first = target  # with -n, Result.save names the files KK-1.png, KK-2.png, …
        if len(result.outputs) > 1:
            first = target.with_name(f"{target.stem}-1{target.suffix}")
        if not self.overwrite and first.exists():
            with self._lock:
                self.kept += 1
            return
        paths = result.save(target, overwrite=self.overwrite)
        with self._lock:
            self.saved += paths
