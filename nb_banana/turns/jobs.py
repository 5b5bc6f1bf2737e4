"""Batch API jobs as the store keeps them: refreshed, waited for, fetched and cancelled.

Why a module of its own: a job outlives the kernel and the cell that submitted it
(``batch.py``). Its row in the store (table ``jobs``) holds each element's key, label and
request, input images as blobs, so any later kernel can ask the API for its state, record
its answers with ``cache.record`` under each element's own key (cost at the batch price),
and give them back as ``--each`` does (``each.EachResult``). ``%banana jobs`` lists, shows
and cancels them. Calls go through the SDK's ``client.batches`` in the caller's thread, on
the endpoint that made the job; only ``wire`` builds SDK types.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import replace
from itertools import islice
from typing import Any, TypeVar

from ..answer.previews import make_previews
from ..answer.result import Result
from ..context import open_store, session, settings
from ..errors import BananaError, BatchError, StoreError, TransientError
from ..gemini import engine, secrets, wire
from ..gemini.images import EncodedImage
from ..gemini.models import resolve_model
from ..gemini.request import ImagePart, Request, TextPart
from ..gemini.usage import format_usd
from ..memory import cache
from ..memory.store import ENDED_WITHOUT_RESULTS, SIMULATOR, JobRow, Store
from . import each, offline
from .runner import Ask

_DONE = ("SUCCEEDED", "PARTIALLY_SUCCEEDED")
_GONE = "GONE"  # not an API state: the API answered 404 for the job
_ENDED = (*_DONE, *ENDED_WITHOUT_RESULTS)
MISSING = "its answer is missing from the job's results: re-run the cell to ask for it again"

T = TypeVar("T")


class Job:
    """One Batch API job as the store keeps it: refresh, wait for, fetch and cancel it."""

    def __init__(self, row: JobRow, store: Store, *, kept: bool = True) -> None:
        self._row = row
        self._store = store
        # ``False``: a job found on Google's side whose elements are not known yet
        # (``batch._recover``); kept without them, a re-run would submit them again.
        self._kept = kept
        self._remote: Any = None  # the BatchJob the API last sent (with results, once done)

    @property
    def name(self) -> str:
        """The API's name, ``batches/…``."""
        return self._row.name

    @property
    def short_id(self) -> str:
        """The id alone (``%banana jobs ID``)."""
        return short_id(self.name)

    @property
    def state(self) -> str:
        """``pending``, ``running``, ``succeeded``, ``failed``, ``cancelled``, ``expired``…"""
        return self._row.state.lower()

    @property
    def done(self) -> bool:
        """The job has ended (successfully or not): polling it again changes nothing."""
        return self._row.state in _ENDED

    @property
    def succeeded(self) -> bool:
        """The job has ended with its results (which may still hold failed elements)."""
        return self._row.state in _DONE

    @property
    def row(self) -> JobRow:
        """The job as the store keeps it: elements, estimate, when fetched, failures."""
        return self._row

    def refresh(self) -> Job:
        """Ask the API for the job's state (and, once it is done, its results)."""
        try:
            remote = call(
                lambda client: client.batches.get(name=self.name, config=_quick()),
                self._row,
                f"Checking {self.name}",
            )
        except _JobGone:
            self._save(state=_GONE)
            return self
        self._remote = remote
        self._save(state=state_name(remote.state) or self._row.state)
        return self

    def wait(self, timeout: float | None = None, poll: float = 30.0) -> Job:
        """Refresh every ``poll`` seconds until the job ends or ``timeout`` passes; returns
        the job either way (see ``.state``). A brief network failure is polled through."""
        wait_for([self], timeout, poll)
        return self

    def results(self) -> each.EachResult:
        """The job's answers in element order (as ``--each`` gives them: a contact sheet,
        ``.failed`` by index and label), recorded in the store the first time."""
        started = time.perf_counter()
        outcomes = self.outcomes()
        items = [
            each.Element(doc["index"], doc["label"], self._ask(doc["request"]))
            for doc in self._row.elements
        ]
        keys = [doc["key"] for doc in self._row.elements]
        return each_result(items, keys, outcomes, time.perf_counter() - started)

    def cancel(self) -> Job:
        """Ask the API to stop the job; what it finished before stopping is lost."""
        if not self.done:
            self.refresh()
        if self.done:
            raise BatchError(
                f"{self.name} has already {_ended_word(self.state)}: there is nothing to cancel."
            )
        call(
            lambda client: client.batches.cancel(name=self.name, config=_quick()),
            self._row,
            f"Cancelling {self.name}",
        )
        return self.refresh()

    def outcomes(self) -> dict[str, each.Done | str]:
        """Each element's answer by cache key, as thumbnails and where the full answer is
        kept (``each.Done``), or the reason it has none.

        Fetched once: the answers go into the store, and later calls read them from there
        (no API call). A store cleaned since is fetched again.
        """
        if self._row.fetched is None:
            self._catch_up()
        if self._row.fetched is None:
            if not self.done:
                self.refresh()
            self._check_succeeded()
            fresh = self._fetch()
        else:
            fresh = {}
        outcomes = {doc["key"]: self._outcome(doc, fresh) for doc in self._row.elements}
        if fresh or all(outcome is not None for outcome in outcomes.values()):
            return {key: outcome or MISSING for key, outcome in outcomes.items()}
        self._save(fetched=None)  # the store lost some answers: fetch them again
        return self.outcomes()

    def _catch_up(self) -> None:
        """The job as the store has it now: another ``Job`` of the same job (a re-run of
        its cell, ``%banana jobs``) may have fetched it, and recording the answers twice
        would count their cost twice."""
        kept = next((row for row in self._store.jobs() if row.name == self.name), None)
        if kept is not None and kept.fetched is not None:
            self._row = kept

    def _outcome(self, doc: dict[str, Any], fresh: dict[str, each.Done]) -> each.Done | str | None:
        key = doc["key"]
        if key in self._row.failures:
            return self._row.failures[key]
        if key in fresh:
            return fresh[key]
        request = _request_from_doc(doc["request"], self._store)
        found = stored_result(self._store, (key,), request, self._row.endpoint)
        return None if found is None else each.Done.of(-1, (key,), self._row.endpoint, found)

    def _ask(self, doc: dict[str, Any]) -> Ask:
        """The element as an ``Ask`` again, its images the store's files (read when a full
        answer is asked for, not before)."""
        items = tuple(
            part["text"] if "text" in part else (part["label"], self._store.blob_path(part["blob"]))
            for part in doc["parts"]
        )
        return Ask(
            items,
            model=doc["model"],
            aspect=doc["aspect"],
            size=doc["size"],
            count=doc["count"],
            search=tuple(doc["search"]),
            thoughts=doc["thoughts"],
            thinking=doc["thinking"] or None,
        )

    def _check_succeeded(self) -> None:
        """A job that has not (or not successfully) ended: one line, cause and fix."""
        state = self._row.state
        if state in _DONE:
            return
        if state not in _ENDED:
            raise BatchError(
                f"{self.name} is still {self.state} (submitted {_age(self._row.created)} ago): "
                f"wait for it (.wait()), or see it later with %banana jobs {self.short_id}."
            )
        why = {
            "FAILED": "failed on Google's side",
            "CANCELLED": "was cancelled",
            "EXPIRED": "expired before Google ran it (a job has 48 hours)",
            _GONE: "is no longer known to the API (deleted, or too old)",
        }
        raise BatchError(
            f"{self.name} {why.get(state, self.state)}, so it has no results: re-run the "
            "submitting cell to submit its elements again."
        )

    def _fetch(self) -> dict[str, each.Done]:
        """Record every answer of the finished job under its element's key; only thumbnails
        stay in memory, so a job of hundreds of pictures does not hold them all."""
        remote = self._remote
        if remote is None or remote.dest is None:
            remote = self.refresh()._remote
        responses = list(remote.dest.inlined_responses or []) if remote.dest else []
        if not responses:
            raise BatchError(
                f"{self.name} succeeded but its results are missing (no inlined responses "
                f"came back): try again with %banana jobs {self.short_id}; if they stay "
                "missing, re-run the submitting cell to submit again."
            )
        fresh: dict[str, each.Done] = {}
        failures: dict[str, str] = {}
        docs = self._row.elements
        for doc, items in zip(docs, _by_element(responses, docs), strict=True):
            outcome = self._record(doc, items)
            if isinstance(outcome, Result):
                fresh[doc["key"]] = each.Done.of(-1, (doc["key"],), self._row.endpoint, outcome)
            else:
                failures[doc["key"]] = outcome
        self._save(fetched=time.time(), failures=failures)
        return fresh

    def _record(self, doc: dict[str, Any], items: list[Any]) -> Result | str:
        """One element's answer into the store; its reason when no sample came back whole."""
        request = _request_from_doc(doc["request"], self._store)
        outcomes: list[wire.Reply | BananaError] = []
        for item in items:
            try:
                outcomes.append(wire.parse_inlined(item))
            except BananaError as exc:
                outcomes.append(exc)
        replies = tuple(o for o in outcomes if isinstance(o, wire.Reply))
        failures = tuple(o for o in outcomes if isinstance(o, BananaError))
        if replies:  # kept even when a sample failed: history, never served (``complete``)
            result = self._keep(doc["key"], request, replies, failures)
            if len(replies) == request.count:
                return result
        if failures:
            return secrets.redact(str(failures[0]))
        return MISSING if not replies else f"only {len(replies)} of {request.count} came back"

    def _keep(self, key: str, request: Request, replies: tuple, failures: tuple) -> Result:
        outs = [(image.data, image.mime_type) for reply in replies for image in reply.images]
        result = Result(
            request,
            replies,
            time.time() - self._row.created,
            failures,
            simulated=self._row.endpoint == SIMULATOR,
            previews=tuple(make_previews(outs, settings().preview_px)),
            batch=True,
        )
        result.generation_id = cache.record(self._store, key, result, self._row.endpoint)
        session().account(result)  # this kernel's totals (%banana usage), at the batch price
        return result

    def _save(self, **changes: Any) -> None:
        """The job's new state, in the store; kept in this kernel's memory of the store
        when its disk is full, and written when it next can be (``Store.save_job``)."""
        self._row = replace(self._row, **changes)
        if self._kept:
            with suppress(StoreError):
                self._store.save_job(self._row)

    def __repr__(self) -> str:
        return f"<nb_banana.Job {describe(self._row)}>"


def kept(store: Store | None = None) -> list[Job]:
    """Every job the store keeps, newest first."""
    store = store or open_store(settings().store)
    return [Job(row, store) for row in store.jobs()]


def find(name: str, store: Store | None = None) -> Job:
    """A kept job by its API name (``batches/…``), its id, or the start of its id."""
    import difflib

    known = kept(store)
    wanted = short_id(name.strip())
    exact = [job for job in known if job.short_id == wanted]
    matches = exact or [job for job in known if wanted and job.short_id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise BatchError(
            f"{name} could be {', '.join(j.short_id for j in matches[:4])}: give more of the id."
        )
    close = difflib.get_close_matches(wanted, [job.short_id for job in known], n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise BatchError(f"No job {name} in the store.{hint} %banana jobs lists them.")


def short_id(name: str) -> str:
    """``batches/abc123`` -> ``abc123``: how a job is named in listings and commands."""
    return name.rsplit("/", 1)[-1]


def describe(row: JobRow) -> str:
    """One line about a job: id, state, counts, age, model and estimated cost."""
    total = len(row.elements)
    if row.fetched is not None:
        counts = f"{total - len(row.failures)} of {total} answered, {len(row.failures)} failed"
    elif total:
        counts = f"{total} element{'s' * (total != 1)}"
    else:  # found on Google's side by a store that had lost it (``batch._recover``)
        counts = "its elements known once it ends"
    simulated = " (simulator)" if row.endpoint == SIMULATOR else ""
    return (
        f"{row.name} · {row.state.lower()} · {counts} · {_age(row.created)} ago · "
        f"{row.model}{simulated} · ~{format_usd(row.estimate)}"
    )


def listing(store: Store | None = None) -> str:
    """``%banana jobs``: every kept job, newest first, those still running asked for their
    state (jobs of another endpoint are shown as last seen)."""
    known = kept(store)
    if not known:
        return "No Batch API jobs in the store yet: %%banana --each NAME --batch submits one."
    endpoint = offline.endpoint_class()
    unchecked = ""
    for job in known:
        if job.done or job.row.endpoint != endpoint or unchecked:
            continue
        try:
            job.refresh()
        except BananaError as exc:  # listed as last seen, with the reason once
            unchecked = f"(States as last seen: {exc})"
    lines = [describe(job.row) for job in known]
    return "\n".join([*lines, unchecked] if unchecked else lines)


def wait_for(waiting: Sequence[Job], timeout: float | None, poll: float) -> None:
    """Poll jobs until all have ended or ``timeout`` passes; the kernel's interrupt stops
    waiting (the jobs go on)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for job in waiting:
            if not job.done:
                with suppress(TransientError):  # polled through: the next poll may pass
                    job.refresh()
        left = None if deadline is None else deadline - time.monotonic()
        if all(job.done for job in waiting) or (left is not None and left <= 0):
            return
        time.sleep(poll if left is None else min(poll, left))


def stored_result(
    store: Store, keys: Sequence[str], request: Request, endpoint: str
) -> Result | None:
    """An element's answer read back from the store (``cached``: no call, no cost)."""
    try:
        row = next((row for key in keys if (row := store.lookup(key, endpoint))), None)
        if row is None:
            return None
        replies, previews = cache.rebuild(store, row, request)
    except StoreError:
        return None
    return Result(
        request,
        replies,
        0.0,
        simulated=row.endpoint == SIMULATOR,
        cached=True,
        previews=previews,
        generation_id=row.id,
        batch=True,
    )


def state_name(state: Any) -> str:
    """``JobState.JOB_STATE_RUNNING`` (or ``BATCH_STATE_RUNNING``) -> ``RUNNING``."""
    value = getattr(state, "value", state) or ""
    return str(value).removeprefix("JOB_STATE_").removeprefix("BATCH_STATE_")


def each_result(
    items: Sequence[each.Element],
    keys: Sequence[str],
    outcomes: dict[str, each.Done | str],
    elapsed: float,
) -> each.EachResult:
    """The answers as ``--each`` gives them, so a batch binds and shows like a live run."""
    done: dict[int, each.Done] = {}
    failed: dict[int, each.Failure] = {}
    for item, key in zip(items, keys, strict=True):
        outcome = outcomes.get(key, MISSING)
        if isinstance(outcome, str):
            failed[item.index] = each.Failure(item.index, item.label, outcome)
        else:
            done[item.index] = replace(outcome, index=item.index)
    return each.EachResult(items, done, failed, elapsed, load=each.load_result)


def _by_element(responses: list[Any], docs: list[dict[str, Any]]) -> list[list[Any]]:
    """The job's responses grouped by element: by the ``element`` tag each request carried
    (the API echoes metadata), else in the order the requests were sent."""
    if all(r.metadata and "element" in r.metadata for r in responses):
        groups: list[list[Any]] = [[] for _ in docs]
        for response in responses:
            tag = response.metadata["element"]
            if tag.isdigit() and int(tag) < len(docs):
                groups[int(tag)].append(response)
        return groups
    rest = iter(responses)
    return [list(islice(rest, doc["request"]["count"])) for doc in docs]


def request_doc(request: Request, store: Store) -> dict[str, Any]:
    """The request as a job keeps it: options and text, input images as blobs in the store,
    so a kernel restarted before the job ends can still record its answers."""
    names = iter(store.put_blobs([(p.image.data, p.image.mime_type) for p in request.images]))
    parts: list[dict[str, Any]] = []
    for part in request.parts:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
        else:
            image = part.image
            parts.append(
                {
                    "blob": next(names),
                    "mime_type": image.mime_type,
                    "label": part.label,
                    "width": image.width,
                    "height": image.height,
                }
            )
    return {
        "model": request.model.id,
        "aspect": request.aspect,
        "size": request.size,
        "count": request.count,
        "search": list(request.search),
        "thoughts": request.thoughts,
        "thinking": request.thinking,
        "parts": parts,
    }


def _request_from_doc(doc: dict[str, Any], store: Store) -> Request:
    """The ``Request`` again, image bytes read back from the store."""
    parts = tuple(
        TextPart(part["text"])
        if "text" in part
        else ImagePart(
            EncodedImage(
                store.blob(part["blob"]), part["mime_type"], part["width"], part["height"]
            ),
            part["label"],
        )
        for part in doc["parts"]
    )
    return Request(
        resolve_model(doc["model"]),
        parts,
        doc["aspect"],
        doc["size"],
        doc["count"],
        tuple(doc["search"]),
        doc["thoughts"],
        doc["thinking"],
    )


def call(action: Callable[[Any], T], row: JobRow, doing: str) -> T:
    """One call to ``client.batches``, on the endpoint the job belongs to; an SDK failure
    becomes one line with its cause and fix, the key scrubbed from what is chained."""

    if row.endpoint and row.endpoint != offline.endpoint_class():
        raise BatchError(
            f"{row.name or 'This job'} belongs to {_where(row.endpoint)}, not to the endpoint "
            f"in use: {_back_to(row.endpoint)} to reach it."
        )
    client = offline.current_client()
    try:
        return action(client)
    except Exception as exc:
        raise _explained(exc, row, doing) from secrets.scrub(exc, frames=False)


class _JobGone(BatchError):
    """The API answered 404 for a job it made: deleted, or too old to be kept."""


def _explained(exc: Exception, row: JobRow, doing: str) -> BananaError:
    """The one line for a failed ``client.batches`` call: a 400 names the Batch API, a 404
    the job, anything else reads as a live call's failure would, after what was being done."""
    if isinstance(exc, BananaError):
        return exc
    code = getattr(exc, "code", None)
    said = " ".join(str(getattr(exc, "message", "") or "").split()).rstrip(".")
    label = f"{code} {getattr(exc, 'status', '') or ''}".strip()
    if code == 400:
        return BatchError(
            secrets.redact(
                f"{doing} was refused by the Batch API ({label}{f': {said}' if said else ''}): "
                "check the options and images, or run without --batch to see the live error."
            )
        )
    if code == 404 and row.name:
        return _JobGone(
            f"The API no longer knows {row.name} ({label}): it was deleted or is "
            "too old; re-run the submitting cell to submit its elements again."
        )
    s = settings()
    error = engine.translate(
        exc, model_id=row.model, endpoint=engine.endpoint(s.base_url), timeout=s.timeout, attempts=1
    )
    error.args = (secrets.redact(f"{doing}: {error}"),)
    return error


def _quick() -> dict[str, Any]:
    """Per-call options for get and cancel: the settings' timeout, so a dead network fails
    instead of hanging the kernel."""
    return {"http_options": {"timeout": int(settings().timeout * 1000)}}


def _where(endpoint: str) -> str:
    return {SIMULATOR: "the simulator", "gemini": "Gemini"}.get(endpoint, endpoint)


def _back_to(endpoint: str) -> str:
    if endpoint == SIMULATOR:
        return "run %banana offline"
    if endpoint == "gemini":
        return "run %banana online (and clear Banana.base_url)"
    return f"set %config Banana.base_url = {endpoint!r}"


def _ended_word(state: str) -> str:
    return {
        "succeeded": "succeeded",
        "failed": "failed",
        "cancelled": "been cancelled",
        "expired": "expired",
    }.get(state, f"ended ({state})")


def _age(created: float) -> str:
    """How long ago, in the unit that reads best (``40 s``, ``12 min``, ``3 h``, ``2 days``)."""
    seconds = max(0.0, time.time() - created)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
