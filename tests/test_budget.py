"""``Banana.budget_usd`` on every path (issue 20): spent + committed + this call <= budget,
where committed is this kernel's calls in flight and the Batch API jobs not yet fetched.

The simulator is reached through its own URL as a custom base URL, which a budget counts
(it could be a proxy to the real service), so every call here is billable.
"""

from __future__ import annotations

import itertools
import re
import tempfile

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import nb_banana
from nb_banana.context import context, open_store, session, settings
from nb_banana.errors import BudgetError
from nb_banana.memory.session import Session
from nb_banana.turns import budget, jobs
from nb_banana.turns import runner as turns

ANIMALS = ["a fox", "a hare", "an owl", "a cat", "a dog", "a cow"]
SLOW = (60.0, 60.0)  # a job still pending for the whole test
FAST = (0.05, 0.1)


def posts(sim) -> int:
    return sum(r.path.endswith(":generateContent") for r in sim.requests)


def creates(sim) -> int:
    return sum(r.path.endswith(":batchGenerateContent") for r in sim.requests)


def cell(ip, line: str, body: str) -> str:
    """Run ``%%banana line`` and return what it printed."""
    with capture_output() as captured:
        ip.run_cell_magic("banana", line, body)
    return captured.stdout


def usage_line(ip) -> str:
    with capture_output() as captured:
        ip.run_line_magic("banana", "usage")
    return next(line for line in captured.stdout.splitlines() if line.startswith("Budget:"))


def now() -> budget.Standing:
    return budget.standing(open_store(settings().store))


def owed() -> float:
    """Spent, and owed by jobs not fetched, read from the store as a user would add it up."""
    store = open_store(settings().store)
    ended = ("FAILED", "CANCELLED", "EXPIRED", "GONE")
    jobs = [j for j in store.jobs() if j.fetched is None and j.state not in ended]
    return store.billed_cost() + sum(job.estimate for job in jobs)


def test_each_counts_its_calls_in_flight_and_stops_before_passing_the_budget(ip, sim):
    sim.latency = 0.3  # all eight places would be taken at once
    settings().max_concurrency = 8
    ip.run_line_magic("config", "Banana.budget_usd = 0.10")  # room for two lite calls
    ip.user_ns["animals"] = ANIMALS
    with pytest.raises(UsageError, match=r"over Banana\.budget_usd = \$0\.100"):
        cell(ip, "--each animals -o out", "{item}")
    out = ip.user_ns["out"]
    assert posts(sim) == 2 and len(out.done) == 2
    assert owed() <= 0.10
    assert isinstance(out.stopped, BudgetError)
    said = str(out.stopped)
    assert re.search(r"\(\$0\.068 spent, \$0\.000 committed \(calls in flight", said)
    assert "$-" not in usage_line(ip)


def test_a_call_in_flight_counts_until_its_answer_is_recorded(ip, sim):
    sim.latency = 0.5
    settings().budget_usd = 0.05  # one lite call at a time
    first = turns.plan(turns.Ask(("a fox",)))
    future = turns.send(first)
    with pytest.raises(BudgetError, match=r"\$0\.000 spent, \$0\.035 committed"):
        turns.send(turns.plan(turns.Ask(("a hare",))))  # the panel's worker, meanwhile
    assert now().in_flight == pytest.approx(budget.estimated(first.request))
    result = turns.commit(first, future.result())
    assert now().in_flight == 0 and now().spent == pytest.approx(result.cost)
    assert posts(sim) == 1


def test_the_panel_is_refused_while_a_cells_call_is_in_flight(ip, sim):
    from nb_banana.faces.panel import Panel
    from nb_banana.turns import catalog

    panel = Panel(namespace=ip.user_ns)
    catalog.wait()
    try:
        sim.latency = 1.0
        settings().budget_usd = 0.05
        cells = turns.plan(turns.Ask(("a fox",)))
        future = turns.send(cells)  # a cell's call, still out
        panel.form.prompt.value = "a hare"
        panel.generate_button.click()
        panel.wait(20)
        assert "over Banana.budget_usd = $0.050" in panel.message
        assert "$0.035 committed" in panel.message
        turns.commit(cells, future.result())
        assert posts(sim) == 1
    finally:
        panel.close()
        panel.wait(10)


def test_a_cancelled_call_frees_its_place_in_the_budget(ip, sim):
    from nb_banana.context import engine

    sim.latency = 2.0
    settings().budget_usd = 0.05
    planned = turns.plan(turns.Ask(("a fox",)))
    future = turns.send(planned)
    engine().cancel(future)
    turns.release(planned)
    assert now().in_flight == 0
    sim.latency = 0.0
    second = turns.plan(turns.Ask(("a hare",)))
    turns.commit(second, turns.send(second).result())  # not refused
    assert now().in_flight == 0


def test_batch_jobs_count_against_live_calls_and_other_batches_until_fetched(ip, sim):
    sim.batch_timing = FAST
    settings().budget_usd = 0.10
    submitted = nb_banana.submit_batch(ANIMALS[:5])  # ~$0.087 at the batch price
    with pytest.raises(BudgetError, match=r"committed \(calls in flight, Batch API jobs"):
        nb_banana.generate("a red kite")
    submitted.wait(timeout=60, poll=0.05)
    assert submitted.state == "succeeded"  # succeeded, not yet fetched: still owed
    with pytest.raises(BudgetError, match=r"This batch of 1 "):
        nb_banana.submit_batch(["a red kite"])
    assert creates(sim) == 1 and posts(sim) == 0, [r.path for r in sim.requests]
    submitted.results()  # fetched: what it cost is spent, nothing is committed
    assert now().awaited == 0 and 0 < now().spent <= 0.10


def test_usage_shows_what_is_committed_and_never_a_negative_amount_left(ip, sim):
    sim.batch_timing = SLOW
    nb_banana.generate("a fox")
    nb_banana.generate("a hare")
    job = nb_banana.submit_batch(["an owl"])
    ip.run_line_magic("config", "Banana.budget_usd = 0.05")  # lowered below what is spent
    line = usage_line(ip)
    assert line == (
        "Budget: $0.050: $0.068 spent, $0.017 committed (calls in flight, Batch API jobs not "
        "yet fetched), $0.000 left (the simulator's not counted)"
    )
    job.cancel()


# The rule over any sequence: whatever a notebook does, in any order, what is spent and
# still owed never passes the budget, and nothing stays counted as in flight.

_prompts = itertools.count()


def _fresh(what: str) -> str:
    return f"{what} number {next(_prompts)}"


def _run(ip, step: str) -> None:
    if step == "live":
        cell(ip, "", _fresh("a lighthouse"))
    elif step == "live -n 2":
        cell(ip, "-n 2", _fresh("a harbour"))
    elif step == "each":
        ip.user_ns["things"] = [_fresh("a boat"), _fresh("a gull"), _fresh("a buoy")]
        cell(ip, "--each things", "{item}")
    elif step == "compare":
        cell(ip, "-m lite,flash", _fresh("a pier"))
    elif step == "batch":
        ip.user_ns["things"] = [_fresh("a crab"), _fresh("a shell")]
        cell(ip, "--each things --batch", "{item}")
    else:  # fetch every job that has succeeded
        for job in jobs.kept():
            job.wait(timeout=30, poll=0.05)
            job.results()


@hypothesis_settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.sampled_from(["live", "live -n 2", "each", "compare", "batch", "fetch"]),
        min_size=3,
        max_size=7,
    ),
    limit=st.sampled_from([0.08, 0.15, 0.3]),
)
def test_no_sequence_of_calls_passes_the_budget(ip, sim, steps, limit):
    sim.batch_timing = FAST
    settings().store = tempfile.mkdtemp(prefix="budget-")  # each example starts with nothing
    context().session = Session()
    settings().budget_usd = limit
    for step in steps:
        try:
            _run(ip, step)
        except UsageError as refused:
            assert "Banana.budget_usd" in str(refused)
        assert owed() <= limit, step
        assert session().ledger.total == 0
        assert "$-" not in usage_line(ip)
