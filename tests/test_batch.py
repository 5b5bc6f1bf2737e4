"""The Batch API client (``batch.py``) through the real SDK against the simulator: submit,
list, fetch and cancel; the cell re-run that neither calls nor submits again; a kernel and a
simulator restart mid-job; failures inside a job by index and label; the 20 MB split.

Jobs progress in wall-clock time, so every wait polls to a generous deadline instead of
sleeping a fixed time, and a job that must still be running is given a minute to start.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3

import pytest
from google.genai import types
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

import nb_banana
from nb_banana.context import open_store, settings
from nb_banana.errors import BatchError, BudgetError
from nb_banana.gemini import usage
from nb_banana.simulator import Fault, Simulator
from nb_banana.turns import batch, budget, jobs, offline
from nb_banana.turns import runner as turns

from .conftest import TEST_KEY, restart_kernel

PROMPTS = ["a red fox in the snow", "a blue whale at dusk", "a green frog on a leaf"]
FAST = (0.05, 0.1)  # seconds pending, running
SLOW = (60.0, 60.0)  # still pending for the whole test


def creates(sim) -> list:
    return [r for r in sim.requests if r.path.endswith(":batchGenerateContent")]


def generations(sim) -> int:
    return sum(r.path.endswith(":generateContent") for r in sim.requests)


def in_cell(ip, cell_id: str, code: str):
    """Run Python code as the notebook cell ``cell_id``; its printed and displayed output."""
    ip.user_ns["nb_banana"] = nb_banana
    with capture_output() as captured:
        outcome = ip.run_cell(code, cell_id=cell_id)
    if outcome.error_in_exec is not None:
        raise outcome.error_in_exec
    return captured


def jobs_command(ip, rest: str = ""):
    with capture_output() as captured:
        ip.run_line_magic("banana", f"jobs {rest}".strip())
    return captured


def finished(submitted: batch.Batch) -> batch.Batch:
    submitted.wait(timeout=60, poll=0.05)
    assert submitted.state == "succeeded"
    return submitted


def test_submit_returns_at_once_and_each_answer_is_stored_under_its_elements_key(ip, sim):
    sim.batch_timing = FAST
    submitted = nb_banana.submit_batch(PROMPTS)
    assert submitted.state == "pending" and not submitted.done
    assert [len(c.body["batch"]["inputConfig"]["requests"]["requests"]) for c in creates(sim)] == [
        3
    ]
    results = finished(submitted).results()
    assert [r.request.text for r in results] == PROMPTS and not results.failed
    assert not results.cached and not results.remaining
    before = generations(sim)
    again = nb_banana.generate(PROMPTS[1])  # the live path finds the batch's answer
    assert again.cached and generations(sim) == before


def test_each_inlined_request_is_the_body_a_live_call_sends(ip, sim):
    ip.user_ns["swatch"] = Image.new("RGB", (64, 48), "teal")
    prompt = ("a poster in the colour of", ip.user_ns["swatch"])
    submitted = nb_banana.submit_batch([prompt], aspect="16:9", thinking="high")
    inlined = creates(sim)[0].body["batch"]["inputConfig"]["requests"]["requests"][0]
    nb_banana.generate(*prompt, aspect="16:9", thinking="high")
    live = next(r for r in sim.requests if r.path.endswith(":generateContent"))
    assert inlined["request"] == live.body
    key = submitted.elements[0].key  # what a store that lost the job recovers it by
    assert inlined["metadata"] == {"element": "0", "sample": "0", "key": key}


def test_the_estimate_and_the_recorded_cost_are_half_the_live_price(ip, sim):
    sim.batch_timing = FAST
    submitted = nb_banana.submit_batch(PROMPTS[:1], model="flash", size="2K")
    request = submitted.elements[0].request
    assert submitted.estimate == pytest.approx(budget.estimated(request) / 2)
    results = finished(submitted).results()
    answer = results[0]  # read back from the store
    assert results.cost == pytest.approx(
        usage.cost(request.model, answer.usage, len(answer.outputs), "2K") / 2
    )
    assert "at the batch price" in submitted.summary()


def test_re_running_the_cell_after_success_makes_no_call_and_no_new_job(ip, sim):
    sim.batch_timing = FAST
    code = f"b = nb_banana.submit_batch({PROMPTS!r})"
    printed = in_cell(ip, "cell-a", code + "\nb").stdout
    assert "Submitted batches/" in printed and "at the batch price" in printed
    finished(ip.user_ns["b"]).results()
    sim.clear_requests()
    in_cell(ip, "cell-a", code)
    rerun = ip.user_ns["b"]
    assert rerun.done and not rerun.submitted
    assert [r.request.text for r in rerun.results()] == PROMPTS
    assert sim.requests == []  # no generateContent, no create, not even a get


def test_re_running_the_cell_while_the_job_runs_shows_its_state_and_submits_nothing(ip, sim):
    sim.batch_timing = SLOW
    code = f"b = nb_banana.submit_batch({PROMPTS!r})\nb"
    in_cell(ip, "cell-b", code)
    first = ip.user_ns["b"].jobs[0].name
    printed = in_cell(ip, "cell-b", code).stdout
    assert (
        f"Already submitted {first} · pending" in printed
        and "nothing is submitted twice" in printed
    )
    assert len(creates(sim)) == 1 and generations(sim) == 0
    with pytest.raises(BatchError, match=r"still pending.*wait for it"):
        ip.user_ns["b"].results()
    ip.user_ns["b"].cancel()


def test_a_cell_with_other_elements_submits_only_what_no_job_holds(ip, sim):
    sim.batch_timing = SLOW
    in_cell(ip, "cell-c", f"b = nb_banana.submit_batch({PROMPTS[:2]!r})")
    in_cell(ip, "cell-c", f"b = nb_banana.submit_batch({PROMPTS!r})")
    sent = [c.body["batch"]["inputConfig"]["requests"]["requests"] for c in creates(sim)]
    assert [len(requests) for requests in sent] == [2, 1]
    assert len(ip.user_ns["b"].jobs) == 2
    ip.user_ns["b"].cancel()


def test_the_display_name_names_the_notebook_and_the_cell(ip, sim):
    sim.batch_timing = SLOW
    in_cell(ip, "3f2a1b9c-5d6e-4f70-8a9b-0c1d2e3f4a5b", f"b = nb_banana.submit_batch({PROMPTS!r})")
    name = creates(sim)[0].body["batch"]["displayName"]
    assert name.startswith("nb_banana · ") and name.endswith(" · cell 3f2a1b9c…")
    ip.user_ns["b"].cancel()


def test_jobs_lists_shows_fetches_and_cancels(ip, sim):
    sim.batch_timing = FAST
    done = finished(nb_banana.submit_batch(PROMPTS[:2]))
    sim.batch_timing = SLOW
    running = nb_banana.submit_batch(PROMPTS[2:])
    listed = jobs_command(ip).stdout.splitlines()
    assert listed[0].startswith(running.jobs[0].name) and " · pending · 1 element · " in listed[0]
    assert listed[1].startswith(done.jobs[0].name) and "succeeded" in listed[1]
    shown = jobs_command(ip, done.jobs[0].short_id)  # by its id: fetched and displayed
    assert "2 of 2 answered, 0 failed" in shown.stdout
    assert len(shown.outputs) == 1 and "data:image/" in shown.outputs[0].data["text/html"]
    assert nb_banana.generate(PROMPTS[0]).cached
    cancelled = jobs_command(ip, f"cancel {running.jobs[0].name}").stdout
    assert cancelled.startswith(f"Cancelled: {running.jobs[0].name} · cancelled")
    with pytest.raises(UsageError, match="was cancelled, so it has no results: re-run"):
        jobs_command(ip, running.jobs[0].name)
    with pytest.raises(UsageError, match="already been cancelled"):
        jobs_command(ip, f"cancel {running.jobs[0].short_id}")


def test_an_unknown_job_name_says_what_is_kept(ip, sim):
    sim.batch_timing = SLOW
    job = nb_banana.submit_batch(PROMPTS[:1]).jobs[0]
    with pytest.raises(UsageError, match=r"No job batches/zzz in the store.*%banana jobs lists"):
        jobs_command(ip, "batches/zzz")
    job.cancel()


def test_a_job_outlives_a_kernel_restart_and_a_simulator_restart(ip, sim, tmp_path):
    state = tmp_path / "sim-state"
    first = Simulator(state_dir=state).start()
    port = int(first.url.rsplit(":", 1)[1])
    first.batch_timing = (0.5, 0.5)
    settings().base_url = first.url
    try:
        in_cell(ip, "cell-r", f"b = nb_banana.submit_batch({PROMPTS!r})")
        name = ip.user_ns["b"].jobs[0].name
        first.stop()
        restart_kernel()
        second = Simulator(state_dir=state, port=port).start()
        try:
            job = jobs.find(name).wait(timeout=60, poll=0.05)
            assert job.state == "succeeded"
            shown = jobs_command(ip, name)
            assert "3 of 3 answered" in shown.stdout
            in_cell(ip, "cell-r", f"b = nb_banana.submit_batch({PROMPTS!r})")
            assert [r.request.text for r in ip.user_ns["b"].results()] == PROMPTS
            assert not creates(second) and generations(second) == 0
        finally:
            second.stop()
    finally:
        first.stop()


def test_failures_inside_a_job_are_reported_by_index_and_label(ip, sim):
    sim.batch_timing = FAST
    sim.inject(Fault.finish("IMAGE_SAFETY"))
    sim.inject(Fault.http(400, "Image generation is not available for this request."))
    results = finished(nb_banana.submit_batch(PROMPTS)).results()
    assert results[0] is None and results[1] is None and results[2] is not None
    assert [(f.index, f.label) for f in results.failed] == [(0, PROMPTS[0]), (1, PROMPTS[1])]
    assert "IMAGE_SAFETY" in results.failed[0].reason
    assert results.failed[1].reason == (
        "the job could not answer it (INVALID_ARGUMENT: Image generation is not available for "
        "this request)"
    )
    assert str(results.failed[0]).startswith("#0 a red fox in the snow: No image")
    assert results.cost == pytest.approx(results.done[2].cost) and results.cost > 0


def test_a_run_past_the_inline_limit_is_split_into_jobs_under_it(ip, sim, monkeypatch):
    sim.batch_timing = FAST
    ip.user_ns["swatch"] = Image.effect_noise((256, 256), 64).convert("RGB")
    prompts = [(f"poster {i}", ip.user_ns["swatch"]) for i in range(5)]
    planned = nb_banana.submit_batch(prompts[:1])  # one element's size, as the split counts
    one = batch.inlined_bytes(planned.elements[0])
    finished(planned)
    sim.clear_requests()
    monkeypatch.setattr(batch, "MAX_INLINED_BYTES", 2 * one + one // 2)
    submitted = nb_banana.submit_batch([*prompts[1:], ("poster 5", ip.user_ns["swatch"])])
    sizes = [c.size for c in creates(sim)]
    assert len(sizes) == 3 and all(size < batch.MAX_INLINED_BYTES for size in sizes)
    assert [len(job.row.elements) for job in submitted.jobs] == [2, 2, 1]
    names = [creates(sim)[i].body["batch"]["displayName"] for i in range(3)]
    assert [n.rsplit(" · ", 1)[1] for n in names] == ["1/3", "2/3", "3/3"]
    assert [e.label for e in submitted.elements] == [f"poster {i}" for i in range(1, 6)]
    results = finished(submitted).results()
    assert all(r.request.text.startswith(f"poster {i}") for i, r in enumerate(results, 1))


def test_an_element_alone_over_the_limit_is_refused_before_anything_is_sent(ip, sim, monkeypatch):
    monkeypatch.setattr(batch, "MAX_INLINED_BYTES", 100)
    with pytest.raises(BatchError, match=r"Element #0 \('a red fox in the snow'\) alone is"):
        nb_banana.submit_batch(PROMPTS)
    assert not creates(sim)


def test_one_job_per_model(ip, sim):
    sim.batch_timing = SLOW
    lite = batch.element(0, "lite", turns.plan(turns.Ask(("a fox",))))
    flash = batch.element(1, "flash", turns.plan(turns.Ask(("a fox",), model="flash")))
    made = batch.submit([lite, flash, lite], "nb_banana · test")
    assert [job.row.model for job in made] == [lite.request.model.id, flash.request.model.id]
    assert [len(job.row.elements) for job in made] == [2, 1]
    for job in made:
        job.cancel()


def test_a_failed_job_is_one_line_and_re_running_submits_again(ip, sim):
    sim.batch_timing = FAST
    sim.fail_next_batch()
    code = f"b = nb_banana.submit_batch({PROMPTS!r})"
    in_cell(ip, "cell-f", code)
    failed = ip.user_ns["b"].wait(timeout=60, poll=0.05)
    assert failed.state == "failed"
    with pytest.raises(BatchError, match=r"failed on Google's side.*re-run the submitting cell"):
        failed.results()
    in_cell(ip, "cell-f", code)
    assert len(creates(sim)) == 2 and ip.user_ns["b"].submitted


def test_a_job_the_api_no_longer_knows_says_to_submit_again(ip, sim):
    sim.batch_timing = FAST
    submitted = finished(nb_banana.submit_batch(PROMPTS[:1]))
    from nb_banana.turns.offline import current_client

    current_client().batches.delete(name=submitted.jobs[0].name)
    job = jobs.find(submitted.jobs[0].name).refresh()
    assert job.state == "gone"
    with pytest.raises(BatchError, match=r"no longer known to the API.*re-run the submitting"):
        job.results()


def test_results_missing_from_a_succeeded_job_are_one_line(ip, sim, monkeypatch):
    sim.batch_timing = FAST
    job = jobs.find(finished(nb_banana.submit_batch(PROMPTS[:1])).jobs[0].name)

    def succeeded_without_output() -> jobs.Job:
        job._remote = types.BatchJob(name=job.name, state=types.JobState.JOB_STATE_SUCCEEDED)
        return job

    monkeypatch.setattr(job, "refresh", succeeded_without_output)
    with pytest.raises(BatchError, match="succeeded but its results are missing"):
        job.results()


def test_a_400_on_submit_is_one_line_naming_the_batch_api(ip, sim):
    element = batch.element(0, "fox", turns.plan(turns.Ask(("a fox",))))
    with pytest.raises(BatchError, match="Submitting the batch was refused by the Batch API "):
        batch.submit([element], "")  # the API requires a display name
    assert jobs.kept() == []


def test_a_batch_past_the_budget_is_refused_counting_jobs_not_yet_fetched(ip, sim):
    sim.batch_timing = SLOW
    settings().budget_usd = 0.04
    first = nb_banana.submit_batch(PROMPTS[:2])  # ~$0.034 at the batch price
    with pytest.raises(BudgetError, match=r"This batch .* over Banana.budget_usd"):
        nb_banana.submit_batch(PROMPTS[2:])
    assert len(creates(sim)) == 1
    first.cancel()


def test_the_key_appears_in_no_output_and_no_stored_job(ip, sim):
    sim.batch_timing = FAST
    printed = in_cell(ip, "cell-k", f"b = nb_banana.submit_batch({PROMPTS!r})\nb").stdout
    finished(ip.user_ns["b"])
    shown = jobs_command(ip, ip.user_ns["b"].jobs[0].name)
    with pytest.raises(BatchError) as refused:
        batch.submit(list(ip.user_ns["b"].elements), "")
    texts = [printed, shown.stdout, str(refused.value), repr(ip.user_ns["b"].results())]
    texts += [str(o.data) for o in shown.outputs]
    db = sqlite3.connect(settings().store + "/store.sqlite")
    texts.append(repr(db.execute("SELECT * FROM jobs").fetchall()))
    assert all(TEST_KEY not in text for text in texts)


def test_each_batch_cell_submits_then_shows_and_binds_the_results_on_re_run(ip, sim):
    sim.batch_timing = FAST
    ip.user_ns["animals"] = ["fox", "hare", "owl"]
    cell = "%%banana --each animals --batch -o pics\na {item} in the snow"
    printed = in_cell(ip, "cell-e", cell).stdout
    assert "Submitted batches/" in printed and "3 elements" in printed
    assert ip.user_ns["pics"] is ip.user_ns["_banana"]  # the pending batch, bound
    ip.user_ns["_banana"].wait(timeout=60, poll=0.05)
    shown = in_cell(ip, "cell-e", cell)
    assert "Already submitted batches/" in shown.stdout and "succeeded" in shown.stdout
    pics = ip.user_ns["pics"]
    assert pics.labels == ["fox", "hare", "owl"] and not pics.failed
    assert "nb-banana-each" in shown.outputs[0].data["text/html"]  # the contact sheet
    sim.clear_requests()
    in_cell(ip, "cell-e", cell)
    assert sim.requests == []


def test_batch_without_each_is_refused_in_one_line(ip, sim):
    with pytest.raises(UsageError, match="--batch goes with --each NAME"):
        in_cell(ip, "cell-x", "%%banana --batch\na fox")


def test_submit_batch_fills_a_template_as_each_does(ip, sim):
    sim.batch_timing = SLOW
    submitted = nb_banana.submit_batch(
        "a {item} at {time}", ["fox", "hare"], namespace={"time": "dawn"}
    )
    assert [e.request.text for e in submitted.elements] == ["a fox at dawn", "a hare at dawn"]
    submitted.cancel()


def test_an_expired_job_says_to_submit_again(ip, sim):
    sim.batch_timing = SLOW
    job = nb_banana.submit_batch(PROMPTS[:1]).jobs[0]
    store = open_store(settings().store)
    store.save_job(dataclasses.replace(job.row, state="EXPIRED"))  # as the API would say
    with pytest.raises(BatchError, match=r"expired before Google ran it.*re-run the submitting"):
        jobs.find(job.name).results()
    assert jobs.find(job.name).done


def test_a_job_submitted_offline_outlives_a_kernel_restart(ip, tmp_path, monkeypatch):
    """``%banana offline`` keeps the simulator's jobs beside the store, so a restarted kernel
    (a new simulator on a new port) still finds and fetches them."""
    from nb_banana.simulator import server

    monkeypatch.chdir(tmp_path)
    ip.user_ns["animals"] = PROMPTS
    _stop_shared(server)  # a new kernel has none yet (an earlier test may have started it)
    try:
        ip.run_line_magic("banana", "offline")
        server.shared().batch_timing = (0.2, 0.2)
        with capture_output():
            ip.run_cell_magic("banana", "--each animals --batch", "{item}")
        name = ip.user_ns["_banana"].jobs[0].name
        _stop_shared(server)
        restart_kernel()
        ip.run_line_magic("banana", "offline")
        assert jobs.find(name).wait(timeout=60, poll=0.05).state == "succeeded"
        assert "3 of 3 answered" in jobs_command(ip, name).stdout
    finally:
        offline.go_online()
        _stop_shared(server)


def _stop_shared(server) -> None:
    """What a kernel's exit does to its own simulator."""
    if server._shared is not None:
        server._shared.stop()
        server._shared = None


# Issue 20: a job is never lost nor paid twice; failed elements are asked again; notes.


def test_a_job_submitted_while_the_store_cannot_be_written_is_shown_kept_and_not_paid_twice(
    ip, sim
):
    sim.batch_timing = SLOW
    ip.user_ns["animals"] = PROMPTS
    cell = "%%banana --each animals --batch\n{item}"
    store = open_store(settings().store)
    store._db.execute("PRAGMA query_only = ON")  # SQLite refuses every write, as a full disk
    printed = in_cell(ip, "cell-full", cell).stdout
    name = ip.user_ns["_banana"].jobs[0].name
    assert printed.startswith(f"Submitted {name} · pending · 3 elements")  # first, on screen
    assert f"{name} is not kept in the store yet (The store" in printed
    again = in_cell(ip, "cell-full", cell).stdout
    assert f"Already submitted {name}" in again and len(creates(sim)) == 1
    store._db.execute("PRAGMA query_only = OFF")  # space freed
    assert jobs_command(ip).stdout.startswith(name)
    db = sqlite3.connect(settings().store + "/store.sqlite")
    assert db.execute("SELECT name FROM jobs").fetchall() == [(name,)]  # written, not only listed
    ip.user_ns["_banana"].cancel()


def test_a_store_deleted_after_submitting_keeps_its_jobs(ip, sim):
    sim.batch_timing = SLOW
    ip.user_ns["animals"] = PROMPTS
    cell = "%%banana --each animals --batch\n{item}"
    in_cell(ip, "cell-gone", cell)
    name = ip.user_ns["_banana"].jobs[0].name
    shutil.rmtree(settings().store)
    again = in_cell(ip, "cell-gone", cell).stdout
    assert f"Already submitted {name}" in again and len(creates(sim)) == 1
    assert jobs_command(ip).stdout.startswith(name)
    db = sqlite3.connect(settings().store + "/store.sqlite")
    assert db.execute("SELECT name FROM jobs").fetchall() == [(name,)]
    ip.user_ns["_banana"].cancel()


def test_elements_that_failed_inside_a_succeeded_job_go_into_a_new_job_on_re_run(ip, sim):
    sim.batch_timing = FAST
    sim.inject(Fault.http(500, "Internal error."))
    sim.inject(Fault.finish("IMAGE_SAFETY"))
    ip.user_ns["animals"] = PROMPTS
    cell = "%%banana --each animals --batch -o pics\n{item}"
    in_cell(ip, "cell-6", cell)
    ip.user_ns["_banana"].wait(timeout=60, poll=0.05)
    shown = in_cell(ip, "cell-6", cell).stdout
    assert "2 element(s) that failed inside an earlier job are submitted again" in shown
    assert len(creates(sim)) == 2
    resent = creates(sim)[1].body["batch"]["inputConfig"]["requests"]["requests"]
    assert [r["request"]["contents"][0]["parts"][0]["text"].strip() for r in resent] == PROMPTS[:2]
    ip.user_ns["_banana"].wait(timeout=60, poll=0.05)
    in_cell(ip, "cell-6", cell)
    pics = ip.user_ns["pics"]
    assert not pics.failed and [r.request.text.strip() for r in pics] == PROMPTS
    assert len(creates(sim)) == 2 and generations(sim) == 0


def test_a_batch_shows_each_distinct_note_once(ip, sim):
    sim.batch_timing = SLOW
    ip.user_ns["animals"] = PROMPTS
    printed = in_cell(
        ip, "cell-n", "%%banana --each animals --batch -m gemini-2.5-flash-image\n{item}"
    ).stdout
    notes = [line for line in printed.splitlines() if line.startswith("Note: ")]
    replaced = [note for note in notes if "gemini-2.5-flash-image" in note]
    assert len(replaced) == 1 and "gemini-3.1-flash-image" in replaced[0]  # once, not 3 times
    assert len(notes) == len(set(notes))
    ip.user_ns["_banana"].cancel()


def test_a_new_kernel_on_a_store_made_anew_finds_the_cells_finished_job_on_googles_side(ip, sim):
    sim.batch_timing = FAST
    ip.user_ns["animals"] = PROMPTS
    cell = "%%banana --each animals --batch -o pics\n{item}"
    in_cell(ip, "cell-lost", cell)
    name = ip.user_ns["_banana"].jobs[0].name
    ip.user_ns["_banana"].wait(timeout=60, poll=0.05)
    shutil.rmtree(settings().store)
    restart_kernel()
    ip.user_ns["animals"] = PROMPTS
    shown = in_cell(ip, "cell-lost", cell).stdout
    assert f"{name} was found on Google's side and is kept in the store again." in shown
    assert len(creates(sim)) == 1 and generations(sim) == 0
    assert [r.request.text.strip() for r in ip.user_ns["pics"]] == PROMPTS
    assert [job.name for job in jobs.kept()] == [name]


def test_a_new_kernel_on_a_store_made_anew_submits_nothing_while_the_cells_job_runs(ip, sim):
    sim.batch_timing = SLOW
    ip.user_ns["animals"] = PROMPTS
    cell = "%%banana --each animals --batch\n{item}"
    in_cell(ip, "cell-lost2", cell)
    name = ip.user_ns["_banana"].jobs[0].name
    shutil.rmtree(settings().store)
    restart_kernel()
    ip.user_ns["animals"] = PROMPTS
    shown = in_cell(ip, "cell-lost2", cell).stdout
    assert f"Already submitted {name} · pending · its elements known once it ends" in shown
    assert "nothing is submitted meanwhile" in shown and len(creates(sim)) == 1
    ip.user_ns["_banana"].cancel()
