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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import cache, each
from .errors import BananaError, BatchError, BudgetError, OptionError
from .jobs import (
    MISSING,
    Job,
    awaited,
    call,
    describe,
    each_result,
    request_doc,
    state_name,
    stored_result,
    wait_for,
)
from .models import BATCH_INLINE_BYTES as MAX_INLINED_BYTES
from .request import Request, TextPart
from .session import session
from .settings import settings
from .store import SIMULATOR, JobRow, Store, open_store
from .turns import Ask, Plan, plan, release
from .usage import estimate_before, format_usd

# JSON around one inlined request (options, field names, metadata), counted generously.
_REQUEST_OVERHEAD = 1024

_CREATE_TIMEOUT_S = 600.0  # 20 MB may take minutes to upload on a slow line

_SHORT_ID = 8


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
    ) -> None:
        self.elements = tuple(elements)
        self.jobs = list(jobs)
        self.submitted = list(submitted)  # the jobs this run submitted (the rest: earlier)
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
        for job in self.jobs:
            outcomes.update(job.outcomes())
        for item in self.elements:
            if item.key not in outcomes:
                found = stored_result(self._store, item.keys, item.request, self._endpoint)
                kept = None if found is None else each.Done.of(-1, item.keys, self._endpoint, found)
                outcomes[item.key] = kept or MISSING
        items = [each.Element(e.index, e.label, e.ask) for e in self.elements]
        keys = [e.key for e in self.elements]
        return each_result(items, keys, outcomes, time.perf_counter() - started)

    def cancel(self) -> Batch:
        """Cancel every job not yet ended."""
        for job in self.jobs:
            if not job.done:
                job.cancel()
        return self

    def summary(self) -> str:
        """The line a submitting cell prints: what was sent, or what it is waiting for."""
        lines = [
            f"{'Submitted' if job in self.submitted else 'Already submitted'} {describe(job.row)}"
            for job in self.jobs
        ]
        in_jobs = {doc["key"] for job in self.jobs for doc in job.row.elements}
        answered = sum(item.key not in in_jobs for item in self.elements)
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
) -> list[Job]:
    """Send ``elements`` as Batch API job(s) and keep them in the store; returns at once.

    One job per model, split further so that no job's inlined requests pass
    ``MAX_INLINED_BYTES``. ``cell`` and ``scope`` (the notebook) are what a re-run of the
    submitting cell finds its jobs by.
    """
    if not elements:
        return []
    store = open_store(settings().store)  # a job kept nowhere would be lost: no store, no job
    endpoint = cache.endpoint_class()
    groups = split(elements)
    check_budget(elements, store, endpoint)
    scope = session().chats.scope if scope is None else scope
    made: list[Job] = []
    for number, group in enumerate(groups, 1):
        name = display_name if len(groups) == 1 else f"{display_name} · {number}/{len(groups)}"
        row = JobRow("", name, group[0].request.model.id, "", 0.0, scope, cell, endpoint, 0.0, [])
        try:
            made.append(_create(group, row, store))
        except BananaError as exc:
            if not made:
                raise
            raise BatchError(
                f"{exc} ({len(made)} of {len(groups)} jobs were submitted and "
                "are kept: re-run the cell to submit the rest.)"
            ) from exc
    return made


def _create(group: Sequence[Element], blank: JobRow, store: Store) -> Job:
    """One job: its elements' requests kept first (so a restart can record the answers),
    then the create call, then its row."""
    from . import wire

    docs = [
        {
            "index": e.index,
            "label": e.label,
            "key": e.key,
            "request": request_doc(e.request, store),
        }
        for e in group
    ]
    src = [
        request
        for tag, e in enumerate(group)
        for request in wire.inlined_requests(e.request, e.history, str(tag))
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
    store.save_job(row)
    return Job(row, store)


def submit_or_resume(
    elements: Sequence[Element], *, cell: str | None = None, display_name: str | None = None
) -> Batch:
    """What a submitting cell does, keyed on the store: an element the store answers is not
    sent, one that a job of this cell is running (or has answered) is taken up again from
    that job, and only the rest is submitted. A job that failed, was cancelled or expired
    does not count, so re-running the cell submits its elements again."""
    store = open_store(settings().store)
    endpoint = cache.endpoint_class()
    scope = session().chats.scope
    earlier = _earlier_jobs(store, scope, cell, endpoint)
    taken: dict[str, Job] = {}
    todo = []
    for item in elements:
        job = earlier.get(item.key)
        if job is not None:
            taken[job.name] = job
        elif not any(store.lookup(key, endpoint) for key in item.keys):
            todo.append(item)
    new = submit(todo, display_name or default_display_name(cell), cell=cell, scope=scope)
    return Batch(elements, [*taken.values(), *new], new, store, endpoint)


def _earlier_jobs(store: Store, scope: str, cell: str | None, endpoint: str) -> dict[str, Job]:
    """This cell's jobs on this endpoint that are running or have succeeded, by element key
    (the newest job first); a running one is asked for its state on the way."""
    found: dict[str, Job] = {}
    for row in store.jobs(scope, cell):
        if row.endpoint != endpoint:
            continue
        job = Job(row, store)
        if not job.done:
            job.refresh()
        if job.done and not job.succeeded:
            continue
        for doc in row.elements:
            found.setdefault(doc["key"], job)
    return found


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


def check_budget(elements: Sequence[Element], store: Store, endpoint: str) -> None:
    """Refuse a batch that would pass ``Banana.budget_usd``, counting what earlier jobs
    still to be fetched are expected to cost (the simulator's cost nothing)."""
    budget = settings().budget_usd
    if not budget or endpoint == SIMULATOR:
        return
    total = sum(_estimate(item.request) for item in elements)
    spent = store.billed_cost() + awaited(store)
    if spent + total > budget:
        raise BudgetError(
            f"This batch (~{format_usd(total)} at the batch price) would take spending to "
            f"{format_usd(spent + total)}, over Banana.budget_usd = {format_usd(budget)} "
            f"({format_usd(spent)} spent or awaited from jobs): submit fewer elements, or "
            "raise the budget with %config Banana.budget_usd."
        )


def _estimate(request: Request) -> float:
    return estimate_before(
        request.model, request.text, len(request.images), request.count, request.size, batch=True
    )


def default_display_name(cell: str | None) -> str:
    """The ``displayName`` the API requires: the notebook and the cell, so a job is known
    for what it is in Google's console too (``nb_banana · many.ipynb · cell 3f2a1b9c…``)."""
    from .chat import notebook_name

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
    from .api import as_items
    from .context import context
    from .request import check_count

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
