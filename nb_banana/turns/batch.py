"""The Gemini Batch API: many elements as jobs run on Google's side, at half the price.

Why: a run of hundreds of pictures needs neither the kernel nor the per-minute limits of
live calls, and Google answers a job within 24 hours at half the live price. Each element
goes out as an inlined request that is exactly the ``generateContent`` body a live call
sends (``wire.inlined_requests``), so its answer is recorded under the element's own cache
key: a later live run of the same request, or a re-run of the cell, is answered from the
store.

Here: what a submitting cell does. Its elements are planned (``from_each``), the store
and the cell's earlier jobs answer what they can, and the rest is sent in as few jobs as
the API allows (``submit_or_resume``, ``submit``: one model and at most 20 MB each). The
jobs themselves, kept in the store so that they outlive the kernel, are ``jobs.py``'s.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

from ..context import context, open_store, session, settings
from ..errors import BananaError, BatchError, OptionError, StoreError
from ..gemini import wire
from ..gemini.models import BATCH_INLINE_BYTES as MAX_INLINED_BYTES
from ..gemini.request import Request, TextPart, as_items, check_count
from ..gemini.usage import format_usd
from ..memory.chat import notebook_name
from ..memory.store import ENDED_WITHOUT_RESULTS, JobRow, Store
from . import budget, each, offline
from .jobs import (
    MISSING,
    Job,
    call,
    describe,
    each_result,
    request_doc,
    state_name,
    stored_result,
    wait_for,
)
from .runner import Ask, Plan, plan, release

# JSON around one inlined request (options, field names, metadata), counted generously.
_REQUEST_OVERHEAD = 1024

_CREATE_TIMEOUT_S = 600.0  # 20 MB may take minutes to upload on a slow line

_SHORT_ID = 8

_LISTED = 1000  # the newest jobs a lost store is looked for among (``_recover``)


@dataclass(frozen=True)
class Element:
    """One item of a batch run: its place in the list, a short label, and what it asks."""

    index: int
    label: str
    request: Request
    keys: tuple[str, ...]  # the store keys it may be answered under, its own first
    ask: Ask  # what it was planned from: how its full answer is read back later
    history: tuple[Any, ...] = ()  # earlier turns sent with it (SDK ``Content``)

    @property
    def key(self) -> str:
        """The key its answer is recorded under (the one a live call would use)."""
        return self.keys[0]


def element(index: int, label: str, planned: Plan) -> Element:
    """An element from a planned turn (``turns.plan``). A batch answer never becomes a chat
    turn, so a chat name the plan reserved is freed at once."""
    release(planned)
    return Element(index, label, planned.request, planned.keys, planned.ask, tuple(planned.history))


def from_each(items: Sequence[each.Element]) -> list[Element]:
    """``--each``'s elements (``each.elements``) planned for a job: requests built and
    images encoded here, so a bad element is refused before anything is sent. A repeated
    element is keyed by its take (``each.Takes``), as a live run keys it."""
    takes = each.Takes()
    return [element(item.index, item.label, takes.own(item.index, plan(item.ask)))
            for item in items]  # fmt: skip


def short_label(text: str, limit: int = 40) -> str:
    """An element's label for messages: its text on one line, cut with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Batch:
    """What one submitting cell (or ``submit_batch``) has: its elements, and the jobs that
    answer them, new or taken up from an earlier run of the same cell.

    Elements the store answered before anything was sent belong to no job.
    """

    def __init__(
        self,
        elements: Sequence[Element],
        jobs: Sequence[Job],
        submitted: Sequence[Job],
        store: Store,
        endpoint: str,
        notes: Sequence[str] = (),
    ) -> None:
        self.elements = tuple(elements)
        self.jobs = list(jobs)
        self.submitted = list(submitted)  # the jobs this run submitted (the rest: earlier)
        self.notes = tuple(notes)  # about the requests and the jobs, each once
        self._store = store
        self._endpoint = endpoint

    @property
    def state(self) -> str:
        """The least advanced job's state; ``succeeded`` when every job (or none) has."""
        live = [job.state for job in self.jobs if not job.done]
        if live:
            return "pending" if "pending" in live else live[0]
        failed = [job.state for job in self.jobs if not job.succeeded]
        return failed[0] if failed else "succeeded"

    @property
    def done(self) -> bool:
        """Every job has ended: ``results()`` answers (or says why it cannot)."""
        return all(job.done for job in self.jobs)

    @property
    def estimate(self) -> float:
        """Estimated USD at the batch price for the jobs this run submitted."""
        return sum(job.row.estimate for job in self.submitted)

    def refresh(self) -> Batch:
        """Ask the API for the state of every job not yet ended."""
        for job in self.jobs:
            if not job.done:
                job.refresh()
        return self

    def wait(self, timeout: float | None = None, poll: float = 30.0) -> Batch:
        """Refresh every ``poll`` seconds until every job ends or ``timeout`` passes."""
        wait_for(self.jobs, timeout, poll)
        return self

    def results(self) -> each.EachResult:
        """Every element's answer in order (as ``--each`` gives them), fetched into the
        store when first asked."""
        started = time.perf_counter()
        outcomes: dict[str, each.Done | str] = {}
        for job in self.jobs:  # an answer wins over an earlier job's failure of the element
            for key, outcome in job.outcomes().items():
                if not isinstance(outcomes.get(key), each.Done):
                    outcomes[key] = outcome
        for item in self.elements:
            if not isinstance(outcomes.get(item.key), each.Done):
                found = stored_result(self._store, item.keys, item.request, self._endpoint)
                kept = None if found is None else each.Done.of(-1, item.keys, self._endpoint, found)
                outcomes[item.key] = kept or outcomes.get(item.key, MISSING)
        items = [each.Element(e.index, e.label, e.ask) for e in self.elements]
        keys = [e.key for e in self.elements]
        return each_result(items, keys, outcomes, time.perf_counter() - started)

    def cancel(self) -> Batch:
        """Cancel every job not yet ended."""
        for job in self.jobs:
            if not job.done:
                job.cancel()
        return self

    def summary(self, *, announced: bool = False) -> str:
        """The lines a submitting cell prints: what was sent, or what it is waiting for, and
        each distinct note once; ``announced``: the new jobs' lines were printed already
        (``submit`` prints each the moment the API names it)."""
        lines = [
            f"{'Submitted' if job in self.submitted else 'Already submitted'} {describe(job.row)}"
            for job in self.jobs
            if not (announced and job in self.submitted)
        ]
        lines += [f"Note: {note}" for note in self.notes]
        in_jobs = {doc["key"] for job in self.jobs for doc in job.row.elements}
        known = all(job.row.elements for job in self.jobs)  # else a job may hold the rest
        answered = sum(item.key not in in_jobs for item in self.elements) if known else 0
        if answered:
            lines.append(f"{answered} element(s) answered from the store (no job, no cost).")
        if self.submitted:
            lines.append(
                f"Estimated ~{format_usd(self.estimate)} at the batch price (half the live price)."
            )
        if not self.done:
            first = self.jobs[0].short_id
            lines.append(
                f"Results within 24 hours: re-run this cell, or %banana jobs {first}, "
                "once it has succeeded; nothing is submitted twice."
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def submit(
    elements: Sequence[Element],
    display_name: str,
    *,
    cell: str | None = None,
    scope: str | None = None,
    notes: list[str] | None = None,
) -> list[Job]:
    """Send ``elements`` as Batch API job(s) and keep them in the store; returns at once.

    One job per model, split further so that no job's inlined requests pass
    ``MAX_INLINED_BYTES``. ``cell`` and ``scope`` (the notebook) are what a re-run of the
    submitting cell finds its jobs by. Each job's name is printed the moment the API
    answers, before anything else can fail; a store that cannot keep it (a full disk)
    adds to ``notes`` instead of raising: the job is paid for, and this kernel keeps it.
    """
    if not elements:
        return []
    store = open_store(settings().store)  # a job kept nowhere would be lost: no store, no job
    endpoint = offline.endpoint_class()
    groups = split(elements)
    total = sum(_estimate(item.request) for item in elements)
    hold = budget.reserve_amount(total, store, endpoint, batch_size=len(elements))
    scope = session().chats.scope if scope is None else scope
    made: list[Job] = []
    try:
        for number, group in enumerate(groups, 1):
            name = display_name if len(groups) == 1 else f"{display_name} · {number}/{len(groups)}"
            row = JobRow(
                "", name, group[0].request.model.id, "", 0.0, scope, cell, endpoint, 0.0, []
            )
            try:
                made.append(_create(group, row, store, notes if notes is not None else []))
            except BananaError as exc:
                if not made:
                    raise
                raise BatchError(
                    f"{exc} ({len(made)} of {len(groups)} jobs were submitted and "
                    "are kept: re-run the cell to submit the rest.)"
                ) from exc
    finally:
        hold.release()  # the jobs kept count as awaited from here on
    return made


def _create(group: Sequence[Element], blank: JobRow, store: Store, notes: list[str]) -> Job:
    """One job: the create call, its name on screen at once, then its row in the store.

    The elements' input images go to the store first (so a restarted kernel can record
    the answers); if that fails, nothing has been sent.
    """
    docs = [_doc(e, store) for e in group]
    src = [
        request
        for tag, e in enumerate(group)
        for request in wire.inlined_requests(e.request, e.history, str(tag), key=e.key)
    ]
    config = {
        "display_name": blank.display_name,
        "http_options": {"timeout": int(_CREATE_TIMEOUT_S * 1000)},
    }
    remote = call(
        lambda client: client.batches.create(model=blank.model, src=src, config=config),
        blank,
        "Submitting the batch",
    )
    row = replace(
        blank,
        name=remote.name,
        state=state_name(remote.state) or "PENDING",
        created=time.time(),
        estimate=sum(_estimate(e.request) for e in group),
        elements=docs,
    )
    print(f"Submitted {describe(row)}", flush=True)
    try:
        store.save_job(row)
    except StoreError as exc:
        notes.append(
            f"{row.name} is not kept in the store yet ({exc}). This kernel keeps it: "
            "re-running the cell submits nothing again, and it is written to the store "
            "(%banana jobs) as soon as the store can be written."
        )
    return Job(row, store)


def _doc(item: Element, store: Store) -> dict[str, Any]:
    """An element as its job's row keeps it (input images into the store's blobs)."""
    return {
        "index": item.index,
        "label": item.label,
        "key": item.key,
        "request": request_doc(item.request, store),
    }


# Vertex AI's batch jobs (``batchPredictionJobs``) read a JSONL file from Cloud Storage or
# a BigQuery table and write their answers there: the SDK refuses inlined requests on
# Vertex (``batches.create`` raises ValueError before sending). nb_banana would need a
# bucket to stage them in, and the simulator a Cloud Storage stand-in (docs/architecture.md,
# The Batch API).
VERTEX_BATCH = (
    "--batch does not work on Vertex AI yet: Vertex batch jobs read their requests from "
    "Cloud Storage (gs:// JSONL), and nb_banana has no Banana.gcs_bucket setting to stage "
    'them; run the cell without --batch (live calls), or with %config Banana.backend = "gemini" '
    "for the Gemini Batch API at half price."
)


def submit_or_resume(
    elements: Sequence[Element], *, cell: str | None = None, display_name: str | None = None
) -> Batch:
    """What a submitting cell does, keyed on the store: an element the store answers is not
    sent, one that a job of this cell is running (or has answered) is taken up again from
    that job, and only the rest is submitted. A job that failed, was cancelled or expired
    does not count, so re-running the cell submits its elements again; nor does an element
    that failed inside a job that succeeded (a 500, a refusal): it goes into a new job with
    the other failed ones, as a live ``--each`` re-run asks again for its failures."""
    if offline.on_vertex():
        raise OptionError(VERTEX_BATCH)
    store = open_store(settings().store)
    endpoint = offline.endpoint_class()
    scope = session().chats.scope
    notes = _request_notes(elements)
    name = display_name or default_display_name(cell)
    if cell and not store.jobs(scope, cell):
        running = _recover(store, scope, cell, endpoint, name, elements, notes)
        if running:
            return Batch(elements, running, [], store, endpoint, notes)
    earlier, failed_before = _earlier_jobs(store, scope, cell, endpoint)
    taken: dict[str, Job] = {}
    todo = []
    for item in elements:
        job = earlier.get(item.key)
        if job is not None:
            taken[job.name] = job
        elif not any(store.lookup(key, endpoint) for key in item.keys):
            todo.append(item)
    again = sum(item.key in failed_before for item in todo)
    if again:
        notes.append(
            f"{again} element(s) that failed inside an earlier job are submitted again, "
            "in a new job of their own."
        )
    new = submit(todo, name, cell=cell, scope=scope, notes=notes)
    return Batch(elements, [*taken.values(), *new], new, store, endpoint, notes)


def _recover(
    store: Store,
    scope: str,
    cell: str,
    endpoint: str,
    name: str,
    elements: Sequence[Element],
    notes: list[str],
) -> list[Job]:
    """The store keeps no job of this cell: it may have been deleted or made anew since
    the cell submitted, and a job is paid for. The API's own list is asked for jobs under
    the name this cell gives its jobs. One that has ended with its results is kept in the
    store again, its elements told by the key each of its requests carried
    (``wire.inlined_requests``), and is then taken up as any earlier job. One still
    running cannot tell its elements before it ends: it is returned, and the caller
    submits nothing until it has ended."""
    blank = JobRow("", name, "", "", 0.0, scope, cell, endpoint, 0.0, [])
    try:
        listed = call(
            lambda client: list(islice(client.batches.list(config={"page_size": 100}), _LISTED)),
            blank,
            "Listing the Batch API jobs",
        )
    except BananaError as exc:  # an endpoint that cannot list must not block submitting
        notes.append(f"This cell's earlier jobs could not be looked for on Google's side: {exc}")
        return []
    by_key = {item.key: item for item in elements}
    running: list[Job] = []
    for remote in listed:
        shown, state = remote.display_name or "", state_name(remote.state)
        if not (shown == name or shown.startswith(f"{name} · ")):
            continue
        if state in ENDED_WITHOUT_RESULTS:
            continue
        created = remote.create_time.timestamp() if remote.create_time else time.time()
        model = (remote.model or "").removeprefix("models/")
        row = replace(blank, name=remote.name, display_name=shown, model=model, state=state,
                      created=created)  # fmt: skip
        if state not in ("SUCCEEDED", "PARTIALLY_SUCCEEDED"):
            running.append(Job(row, store, kept=False))
            continue
        if remote.dest is None:  # the list left the results out: ask for the job itself
            remote = call(
                lambda client, n=remote.name: client.batches.get(name=n),
                row,
                f"Checking {row.name}",
            )
        keys = _keys_by_tag(remote)
        if keys is None or any(key not in by_key for key in keys):
            notes.append(
                f"{remote.name} (this cell's, found on Google's side) answered elements this "
                "cell no longer asks for: it is left alone."
            )
            continue
        group = [by_key[key] for key in keys]
        row = replace(
            row,
            estimate=sum(_estimate(e.request) for e in group),
            elements=[_doc(e, store) for e in group],
        )
        with suppress(StoreError):  # kept in this kernel all the same (``Store.save_job``)
            store.save_job(row)
        notes.append(f"{remote.name} was found on Google's side and is kept in the store again.")
    if running:
        notes.append(
            f"{', '.join(job.name for job in running)}: submitted by this cell before the "
            "store lost it; which elements it holds is known once it ends, so nothing is "
            "submitted meanwhile: re-run the cell once it has succeeded."
        )
    return running


def _keys_by_tag(remote: Any) -> list[str] | None:
    """The element keys a finished job's requests carried, in the order they were sent;
    ``None`` if its responses do not say (they came without their metadata)."""
    responses = list(remote.dest.inlined_responses or []) if remote.dest else []
    tagged: dict[int, str] = {}
    for response in responses:
        meta = response.metadata or {}
        if not (meta.get("element", "").isdigit() and meta.get("key")):
            return None
        tagged[int(meta["element"])] = meta["key"]
    if not tagged or sorted(tagged) != list(range(len(tagged))):
        return None
    return [tagged[tag] for tag in range(len(tagged))]


def _request_notes(elements: Sequence[Element]) -> list[str]:
    """Each distinct note of the elements' requests once (a shut-down model's replacement,
    a default the model cannot take, a downscaled reference), in the order first met."""
    return list(dict.fromkeys(note for item in elements for note in item.request.notes))


def _earlier_jobs(
    store: Store, scope: str, cell: str | None, endpoint: str
) -> tuple[dict[str, Job], set[str]]:
    """This cell's jobs on this endpoint that are running or have succeeded, by the keys
    of the elements they cover (the newest job first), and the keys of elements that
    failed inside a succeeded job (covered by none). A running job is asked for its
    state on the way, and a succeeded one is fetched, to know which of its elements failed."""
    found: dict[str, Job] = {}
    failed: set[str] = set()
    for row in store.jobs(scope, cell):
        if row.endpoint != endpoint:
            continue
        job = Job(row, store)
        if not job.done:
            job.refresh()
        if job.done and not job.succeeded:
            continue
        if job.succeeded:
            with suppress(BatchError):  # results missing: kept, and said by ``results()``
                job.outcomes()
        for doc in job.row.elements:
            if doc["key"] in job.row.failures:
                failed.add(doc["key"])
            else:
                found.setdefault(doc["key"], job)
    return found, failed - set(found)


def split(elements: Sequence[Element]) -> list[list[Element]]:
    """The jobs to submit: one model each, and at most ``MAX_INLINED_BYTES`` of inlined
    requests each (in element order)."""
    by_model: dict[str, list[Element]] = {}
    for item in elements:
        _check_batchable(item)
        by_model.setdefault(item.request.model.id, []).append(item)
    groups: list[list[Element]] = []
    for items in by_model.values():
        group: list[Element] = []
        size = 0
        for item in items:
            grows = inlined_bytes(item)
            if group and size + grows > MAX_INLINED_BYTES:
                groups.append(group)
                group, size = [], 0
            group.append(item)
            size += grows
        groups.append(group)
    return groups


def _check_batchable(item: Element) -> None:
    model = item.request.model
    if not model.batch:
        raise BatchError(
            f"{model.id} does not take Batch API jobs: choose another model "
            "(-m lite, flash or pro), or run without --batch."
        )
    if inlined_bytes(item) > MAX_INLINED_BYTES:
        raise BatchError(
            f"Element #{item.index} ({item.label!r}) alone is "
            f"{inlined_bytes(item) / 1e6:.1f} MB inlined, over the Batch API's "
            f"{MAX_INLINED_BYTES / 1e6:g} MB per job: use smaller images, or run it without "
            "--batch."
        )


def inlined_bytes(item: Element) -> int:
    """About how many bytes the element's inlined requests add to a job's body: images as
    base64, text as JSON, thought signatures, and generous room for the options."""
    blobs = [part.image.data for part in item.request.images]
    texts = [part.text for part in item.request.parts if isinstance(part, TextPart)]
    for content in item.history:
        for part in content.parts or ():
            if part.inline_data is not None and part.inline_data.data:
                blobs.append(part.inline_data.data)
            if part.thought_signature:
                blobs.append(part.thought_signature)
            if part.text:
                texts.append(part.text)
    one = _REQUEST_OVERHEAD + sum(4 * ((len(b) + 2) // 3) + 64 for b in blobs)
    one += sum(len(json.dumps(text)) + 16 for text in texts)
    return one * item.request.count


def _estimate(request: Request) -> float:
    """What the element is held at against the budget, at the batch price."""
    return budget.estimated(request, batch=True)


def default_display_name(cell: str | None) -> str:
    """The ``displayName`` the API requires: the notebook and the cell, so a job is known
    for what it is in Google's console too (``nb_banana · many.ipynb · cell 3f2a1b9c…``)."""

    notebook = notebook_name()
    parts = ["nb_banana", Path(notebook).name if notebook else session().chats.scope]
    if cell:
        parts.append(f"cell {cell[:_SHORT_ID]}…" if len(cell) > _SHORT_ID else f"cell {cell}")
    return " · ".join(parts)[:128]


def submit_batch(
    template_or_prompts: str | Sequence[object],
    items: object = None,
    *,
    model: str | None = None,
    aspect: str | None = None,
    size: str | None = None,
    n: int | None = None,
    search: tuple[str, ...] | str | bool = (),
    thoughts: bool | None = None,
    thinking: str | None = None,
    display_name: str | None = None,
    namespace: Mapping[str, object] | None = None,
) -> Batch:
    """Many pictures as Batch API job(s): half the live price, answers within 24 hours.

    ``submit_batch("a {item} in the snow", ["fox", "hare"])`` fills the template once per
    element, as ``%%banana --each NAME --batch`` does (``{item}``, a dict element's
    ``{key}``, other ``{name}``s from ``namespace``, default: the caller's variables);
    ``submit_batch(["a fox", ("a poster of", photo)])`` sends each prompt as it is (a
    string, an image, or a tuple of them, as ``generate`` takes them). Returns at once;
    the ``Batch`` has ``.state``, ``.refresh()``, ``.wait()``, ``.results()`` and
    ``.cancel()``. Calling it again with the same elements (in the same cell) takes up the
    jobs already submitted, or reads their answers from the store, instead of paying twice.
    """
    check_count(n)
    if items is None and not template_or_prompts:
        raise OptionError(
            "submit_batch: the list of prompts is empty, so there is nothing to submit."
        )
    base = Ask(
        (),
        model=model,
        aspect=aspect,
        size=size,
        count=n,
        search=search,
        thoughts=thoughts,
        thinking=thinking,
    )
    if items is None:
        prompts = [list(p) if isinstance(p, tuple | list) else [p] for p in template_or_prompts]
        listed = [
            each.Element(i, _label(parts, i), replace(base, items=tuple(as_items(parts))))
            for i, parts in enumerate(prompts)
        ]
    else:
        if namespace is None:
            caller = sys._getframe(1)
            namespace = {**caller.f_globals, **caller.f_locals}
        listed = each.elements(str(template_or_prompts), items, namespace, base)
    return submit_or_resume(from_each(listed), cell=context().cell, display_name=display_name)


def _label(parts: Sequence[object], index: int) -> str:
    """The prompt's text, or ``item N`` for a prompt that is only images."""
    text = " ".join(part for part in parts if isinstance(part, str))
    return short_label(text) if text.strip() else f"item {index}"
