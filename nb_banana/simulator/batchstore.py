"""Batch jobs: their lifecycle in wall-clock time, their responses, and where they are kept.

A job is pending for its first ``pending`` seconds, running for the next ``running``
seconds, then done: succeeded, or failed when the simulator was told to fail it; cancelling
it before then ends it at once. The times are wall-clock timestamps, so a job kept in a
state folder goes on progressing while no simulator runs, and a new simulator on the same
folder answers for it. A worker thread draws a job's responses once it is running (a
pending job costs no CPU, so a benchmark can queue jobs without the drawing competing with
what it measures), one job at a time, the one that started first first; a job is done only
when its responses are, so a slow machine stretches the running phase instead of answering
with half the results.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

PENDING = "BATCH_STATE_PENDING"
RUNNING = "BATCH_STATE_RUNNING"
SUCCEEDED = "BATCH_STATE_SUCCEEDED"
FAILED = "BATCH_STATE_FAILED"
CANCELLED = "BATCH_STATE_CANCELLED"
DEFAULT_TIMING = (0.5, 1.0)  # seconds pending, seconds running
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

# Draws one entry of a job ({"request", "metadata"?, "fault"?}) into an InlinedResponse.
Respond = Callable[["Job", dict[str, Any]], dict[str, Any]]


@dataclass
class Job:
    """One batch: what it asks for, its timing, and what has been drawn for it so far.

    Mutated only by ``BatchJobs`` under its lock; readers get copies (``BatchJobs.get``).
    """

    id: str
    model: str
    api_version: str
    display_name: str
    created: float  # wall-clock seconds since the epoch
    pending: float
    running: float
    count: int
    entries: list[dict[str, Any]]  # the requests, until all are drawn; then emptied
    responses: list[dict[str, Any]] = field(default_factory=list)  # in request order
    drawn: float | None = None  # when the last response was drawn
    cancelled: float | None = None
    failure: str | None = None  # the message of a job told to fail

    @property
    def name(self) -> str:
        return f"batches/{self.id}"

    @property
    def started(self) -> float:
        """When the job leaves the pending state."""
        return self.created + self.pending

    @property
    def due(self) -> float:
        """When the job is done, if its responses are drawn by then."""
        return self.started + self.running

    def state(self, now: float) -> str:
        if self.cancelled is not None:
            return CANCELLED
        if now < self.started:
            return PENDING
        if now < self.due or self.drawn is None:
            return RUNNING
        return FAILED if self.failure is not None else SUCCEEDED

    def ended(self, now: float) -> float | None:
        """When the job ended (done or cancelled), ``None`` while it has not."""
        if self.cancelled is not None:
            return self.cancelled
        if self.state(now) in (SUCCEEDED, FAILED):
            return max(self.due, self.drawn or self.due)
        return None

    def updated(self, now: float) -> float:
        """When the job last changed state."""
        ended = self.ended(now)
        if ended is not None:
            return ended
        return self.started if now >= self.started else self.created

    def done_count(self, now: float) -> int:
        """How many requests are processed by ``now``: none while pending, a share growing
        with the running time (no more than are drawn) while running, all once done."""
        state = self.state(now)
        if state in (SUCCEEDED, FAILED):
            return self.count
        at = self.cancelled if self.cancelled is not None else now
        if at < self.started:
            return 0
        share = (at - self.started) / self.running if self.running > 0 else 1.0
        return min(len(self.responses), int(self.count * min(share, 1.0)))


class BatchJobs:
    """Every batch job of one simulator, its drawing worker, and (if given) its state folder.

    With ``folder`` each job is a JSON file there (written whole on every change, through a
    temporary file, so a crash never leaves half a job); without it, jobs live in memory.
    """

    def __init__(self, folder: Path | None, respond: Respond) -> None:
        self.folder = folder
        self._respond = respond
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a job was added, or stop()
        self._jobs: dict[str, Job] = {}
        self._timing = DEFAULT_TIMING
        self._failures: deque[str] = deque()
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._loaded = False

    @property
    def timing(self) -> tuple[float, float]:
        return self._timing

    @timing.setter
    def timing(self, timing: tuple[float, float]) -> None:
        pending, running = (float(seconds) for seconds in timing)
        if pending < 0 or running < 0:
            raise ValueError(f"batch timing needs seconds >= 0, not {timing!r}")
        self._timing = (pending, running)

    def fail_next(self, message: str) -> None:
        """Make the next job created end FAILED (with ``message``) instead of SUCCEEDED."""
        with self._lock:
            self._failures.append(message)

    def start(self) -> None:
        """Read the state folder (the first time), then draw the jobs as they start running."""
        with self._lock:
            if not self._loaded and self.folder is not None:
                self._jobs.update((job.id, job) for job in _load(self.folder))
            self._loaded = True
            self._stopping = False
        self._worker = threading.Thread(target=self._work, name="nb_banana-batches", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop drawing (after the response being drawn); undrawn jobs wait for ``start``."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        worker.join(timeout=10)

    def create(
        self, model: str, api_version: str, display_name: str, entries: list[dict[str, Any]]
    ) -> Job:
        """A new job, saved and queued for drawing."""
        pending, running = self._timing
        with self._lock:
            job = Job(
                id=_new_id(),
                model=model,
                api_version=api_version,
                display_name=display_name,
                created=time.time(),
                pending=pending,
                running=running,
                count=len(entries),
                entries=entries,
                failure=self._failures.popleft() if self._failures else None,
            )
            self._jobs[job.id] = job
            self._save(job)
            self._changed.notify_all()
            return replace(job, responses=[])

    def get(self, job_id: str) -> Job | None:
        """A copy of the job, safe to read while the worker draws."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else replace(job, responses=list(job.responses))

    def newest_first(self) -> list[Job]:
        with self._lock:
            ids = sorted(self._jobs, key=lambda i: (-self._jobs[i].created, i))
        return [job for job in map(self.get, ids) if job is not None]

    def cancel(self, job_id: str) -> bool:
        """Cancel a pending or running job (an ended one stays as it is); False if unknown."""
        now = time.time()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return False
            if job.state(now) in (PENDING, RUNNING):
                job.cancelled = now
                job.entries = []
                self._save(job)
            return True

    def delete(self, job_id: str) -> bool:
        """Forget a job, whatever its state; False if unknown."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is not None and self.folder is not None:
                (self.folder / f"{job_id}.json").unlink(missing_ok=True)
            return job is not None

    def clear(self) -> None:
        """Forget every job (their files too), future failures and the timing."""
        with self._lock:
            for job_id in list(self._jobs):
                self._jobs.pop(job_id)
                if self.folder is not None:
                    (self.folder / f"{job_id}.json").unlink(missing_ok=True)
            self._failures.clear()
            self._timing = DEFAULT_TIMING

    def _work(self) -> None:
        while True:
            with self._changed:
                job_id = self._next_running()
                while job_id is None and not self._stopping:
                    self._changed.wait(timeout=self._until_next_start())
                    job_id = self._next_running()
                if self._stopping:
                    return
            self._draw(job_id)

    def _undrawn(self) -> list[Job]:
        """The jobs still to draw (call with the lock held), the first to start first."""
        waiting = (j for j in self._jobs.values() if j.drawn is None and j.cancelled is None)
        return sorted(waiting, key=lambda job: (job.started, job.id))

    def _next_running(self) -> str | None:
        """The undrawn job that started first, if one has (call with the lock held)."""
        waiting = self._undrawn()
        return waiting[0].id if waiting and waiting[0].started <= time.time() else None

    def _until_next_start(self) -> float | None:
        """Seconds until the next undrawn job starts; ``None``: none is waiting (lock held)."""
        waiting = self._undrawn()
        return max(0.0, waiting[0].started - time.time()) if waiting else None

    def _draw(self, job_id: str) -> None:
        """Draw every response of one job, unless it is cancelled, deleted or told to fail."""
        job = self._take_entries(job_id)
        if job is None:
            return
        for entry in job.entries if job.failure is None else []:
            if self._stopping or not self._still_drawing(job_id):
                return
            response = self._respond(job, entry)
            with self._lock:
                if job_id in self._jobs:
                    self._jobs[job_id].responses.append(response)
        with self._lock:
            current = self._jobs.get(job_id)
            if current is not None and current.cancelled is None:
                current.drawn = time.time()
                current.entries = []
                self._save(current)

    def _take_entries(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.drawn is not None or job.cancelled is not None:
                return None
            job.responses = []
            return replace(job)

    def _still_drawing(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            return job is not None and job.cancelled is None

    def _save(self, job: Job) -> None:
        """Write the job's file (call with the lock held)."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{job.id}.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(asdict(job)), encoding="utf-8")
        os.replace(temporary, path)


def _load(folder: Path) -> list[Job]:
    """The jobs saved in ``folder``; a file that is not a job (another format) is skipped."""
    jobs = []
    for path in sorted(folder.glob("*.json")):
        try:
            jobs.append(Job(**json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return jobs


def _new_id() -> str:
    """An id with the look of the API's batch ids (lower-case letters and digits)."""
    number = uuid.uuid4().int
    digits = []
    while number:
        number, digit = divmod(number, len(_ID_ALPHABET))
        digits.append(_ID_ALPHABET[digit])
    return "".join(digits)
