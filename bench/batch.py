"""Issue 14, the Batch API: submitting a 500-element job, beyond encoding its requests.

The elements are planned first, as ``--each --batch`` plans them (``batch.from_each``:
each request built, its options checked, its store keys computed): that is "encoding the
requests", the baseline. The figure times what the cell does after that,
``batch.submit_or_resume``: the store asked for every element, the inlined requests built
and sent through the SDK in one ``batches.create``, the job and its elements written to the
store. Each round submits from a new cell id, so nothing is taken up, and cancels its job at
once, so that the simulator drawing 500 responses does not compete with the next round.

The simulator runs in this process: its parsing of the 500-request body is inside the
figure, as the real API's is not, so the figure errs on the slow side. The kernel thread's
own CPU time (``time.thread_time``) is in the details.
"""

from __future__ import annotations

import contextlib
import gc
import io
import time

from nb_banana.turns import batch, each
from nb_banana.turns import runner as turns

from .figure import Figure
from .rig import Rig
from .stats import Stat

ELEMENTS = 500
TEMPLATE = "a lighthouse on a cliff at dawn, watercolour, number {item}"


def submit_figure(rig: Rig, repeats: int) -> Figure:
    rig.fresh_store()
    timing, rig.sim.batch_timing = rig.sim.batch_timing, (3600.0, 3600.0)  # cancelled anyway
    try:
        return _measured(rig, repeats)
    finally:
        rig.sim.batch_timing = timing


def _measured(rig: Rig, repeats: int) -> Figure:
    items = each.elements(TEMPLATE, list(range(ELEMENTS)), {}, turns.Ask(()))
    # The first round warms up (the SDK imported, the connection open); then one per repeat.
    runs = [_round(items, f"bench-cell-{n}") for n in range(repeats + 1)][1:]
    value, baseline = Stat.of([r[1] for r in runs]), Stat.of([r[0] for r in runs])
    cpu = Stat.of([r[2] for r in runs])
    return Figure(
        "batch_submit_500", 14, "submitting a 500-element batch job", "ms", value,
        "batch.submit_or_resume of 500 planned text elements from a new cell: store lookups, "
        "inlined requests built and sent in one batches.create (simulator in-process), the "
        "job row written; the planning before it is the baseline",
        baseline, "encoding the 500 requests", score=value.median, score_unit="ms",
        limit=2000.0, target="< 2 s beyond encoding",
        details={"elements": ELEMENTS, "kernel_thread_cpu_ms": cpu.to_json()},
    )  # fmt: skip


def _round(items: list[each.Element], cell: str) -> tuple[float, float, float]:
    """One submission: ms encoding, ms submitting, ms of the kernel thread's CPU submitting."""
    gc.collect()
    started = time.perf_counter()
    planned = batch.from_each(items)
    encoded = time.perf_counter()
    cpu = time.thread_time()
    with contextlib.redirect_stdout(io.StringIO()):  # the job's name, printed as it goes out
        submitted = batch.submit_or_resume(planned, cell=cell)
    cpu = time.thread_time() - cpu
    done = time.perf_counter()
    submitted.cancel()
    if len(submitted.submitted) != 1 or len(submitted.jobs[0].row.elements) != ELEMENTS:
        raise RuntimeError("the 500 elements did not go out as one job")
    return (encoded - started) * 1000, (done - encoded) * 1000, cpu * 1000
