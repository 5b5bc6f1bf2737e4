"""The simulator's Batch API, always through the real SDK (``client.batches.*``), as
google-genai 3.6.1 calls it on the Gemini Developer API.

Jobs are made to sit in a state for 30 s when a test reads that state, and to finish at once
(timing ``(0, 0)``) when a test waits for results, so nothing depends on how fast a noisy
machine is; waits poll every 50 ms up to a generous deadline.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import errors, types

from nb_banana.simulator import Fault, Simulator

from .conftest import sdk_client

LITE = "gemini-3.1-flash-lite-image"
FLASH2 = "gemini-3.1-flash-image"
State = types.JobState
ENDED = (State.JOB_STATE_SUCCEEDED, State.JOB_STATE_FAILED, State.JOB_STATE_CANCELLED)
HOLD = (30.0, 30.0)  # long enough that a job is still where a test looks for it
AT_ONCE = (0.0, 0.0)
DEADLINE = 60.0


def ask(text: str, **config: Any) -> dict[str, Any]:
    """One inlined request as a user of ``client.batches.create`` writes it."""
    request: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if config:
        request["config"] = config
    return request


def create(client: genai.Client, *requests: dict[str, Any], model: str = LITE) -> types.BatchJob:
    return client.batches.create(model=model, src=list(requests), config={"display_name": "test"})


def wait_until_ended(client: genai.Client, name: str) -> types.BatchJob:
    deadline = time.monotonic() + DEADLINE
    while True:
        job = client.batches.get(name=name)
        if job.state in ENDED:
            return job
        assert time.monotonic() < deadline, f"{name} is still {job.state}"
        time.sleep(0.05)


def images(response: types.GenerateContentResponse) -> list[bytes]:
    return [part.inline_data.data for part in response.parts or [] if part.inline_data]


def rejected(call: Any, status: int) -> errors.APIError:
    with pytest.raises(errors.APIError) as info:
        call()
    assert info.value.code == status
    return info.value


def control(sim: Simulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(sim.url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---------------------------------------------------------------- lifecycle


def test_create_answers_a_pending_job_the_sdk_reads(client, sim):
    sim.batch_timing = HOLD
    job = client.batches.create(
        model=LITE, src=[ask("a cat"), ask("a dog")], config={"display_name": "two pets"}
    )
    assert job.name.startswith("batches/")
    assert job.state == State.JOB_STATE_PENDING
    assert job.display_name == "two pets" and job.model == f"models/{LITE}"
    assert job.create_time is not None and job.dest is None
    [recorded] = sim.requests
    assert recorded.path == f"/v1/models/{LITE}:batchGenerateContent"
    inlined = recorded.body["batch"]["inputConfig"]["requests"]["requests"]
    assert [r["request"]["contents"][0]["parts"][0]["text"] for r in inlined] == ["a cat", "a dog"]


def test_a_job_is_running_after_its_pending_time(client, sim):
    sim.batch_timing = (0.0, 30.0)
    job = create(client, ask("a cat"))
    assert client.batches.get(name=job.name).state == State.JOB_STATE_RUNNING


def test_a_job_goes_pending_then_running_then_succeeded(client, sim):
    sim.batch_timing = (0.3, 0.6)
    job = create(client, ask("a cat"))
    seen = [job.state]
    deadline = time.monotonic() + DEADLINE
    while seen[-1] not in ENDED and time.monotonic() < deadline:
        state = client.batches.get(name=job.name).state
        if state != seen[-1]:
            seen.append(state)
        time.sleep(0.05)
    order = [State.JOB_STATE_PENDING, State.JOB_STATE_RUNNING, State.JOB_STATE_SUCCEEDED]
    assert seen[0] == State.JOB_STATE_PENDING and seen[-1] == State.JOB_STATE_SUCCEEDED
    assert [order.index(state) for state in seen] == sorted(order.index(s) for s in seen)


def test_a_job_keeps_the_timing_it_was_created_with(client, sim):
    sim.batch_timing = HOLD
    job = create(client, ask("a cat"))
    sim.batch_timing = AT_ONCE
    assert client.batches.get(name=job.name).state == State.JOB_STATE_PENDING


def test_cancel_moves_a_running_job_to_cancelled(client, sim):
    sim.batch_timing = (0.0, 30.0)
    job = create(client, ask("a cat"))
    assert client.batches.cancel(name=job.name) is None
    cancelled = client.batches.get(name=job.name)
    assert cancelled.state == State.JOB_STATE_CANCELLED
    assert cancelled.dest is None and cancelled.end_time is not None


def test_cancel_leaves_a_finished_job_as_it_is(client, sim):
    sim.batch_timing = AT_ONCE
    job = wait_until_ended(client, create(client, ask("a cat")).name)
    client.batches.cancel(name=job.name)
    after = client.batches.get(name=job.name)
    assert after.state == State.JOB_STATE_SUCCEEDED and len(after.dest.inlined_responses) == 1


def test_a_job_told_to_fail_ends_failed_without_results(client, sim):
    sim.batch_timing = AT_ONCE
    sim.fail_next_batch("the batch broke")
    failed = wait_until_ended(client, create(client, ask("a cat")).name)
    assert failed.state == State.JOB_STATE_FAILED and failed.dest is None
    then = wait_until_ended(client, create(client, ask("a cat")).name)
    assert then.state == State.JOB_STATE_SUCCEEDED


def test_delete_forgets_a_job(client, sim):
    sim.batch_timing = HOLD
    keep, drop = create(client, ask("a cat")), create(client, ask("a dog"))
    deleted = client.batches.delete(name=drop.name)
    assert isinstance(deleted, types.DeleteResourceJob)
    assert rejected(lambda: client.batches.get(name=drop.name), 404).status == "NOT_FOUND"
    rejected(lambda: client.batches.delete(name=drop.name), 404)
    rejected(lambda: client.batches.cancel(name=drop.name), 404)
    assert [job.name for job in client.batches.list()] == [keep.name]


def test_an_unknown_job_is_404(client, sim):
    error = rejected(lambda: client.batches.get(name="batches/nosuchjob"), 404)
    assert error.status == "NOT_FOUND"


def test_list_pages_through_every_job_newest_first(client, sim):
    sim.batch_timing = HOLD
    names = [create(client, ask(f"cat {i}")).name for i in range(5)]
    listed = client.batches.list(config={"page_size": 2})
    assert [job.name for job in listed] == names[::-1]
    pages = [r.path for r in sim.requests if r.path.startswith("/v1/batches")]
    assert pages[0] == "/v1/batches?pageSize=2" and len(pages) == 3
    assert all(job.state == State.JOB_STATE_PENDING for job in client.batches.list())


def test_v1beta_serves_the_same_batches(sim):
    sim.batch_timing = AT_ONCE
    beta = sdk_client(sim, api_version="v1beta")
    job = wait_until_ended(beta, create(beta, ask("a cat")).name)
    assert job.state == State.JOB_STATE_SUCCEEDED
    assert {r.api_version for r in sim.requests} == {"v1beta"}


# ---------------------------------------------------------------- results


def test_results_are_what_generate_content_answers_each_request(client, sim):
    sim.batch_timing = AT_ONCE
    wide = {"response_modalities": ["TEXT", "IMAGE"], "image_config": {"aspect_ratio": "16:9"}}
    job = create(client, ask("a cat"), ask("a dog on a beach", **wide), model=FLASH2)
    done = wait_until_ended(client, job.name)
    assert done.state == State.JOB_STATE_SUCCEEDED and done.end_time is not None
    batched = [inlined.response for inlined in done.dest.inlined_responses]
    sim.reset()  # so that the live calls are first takes too
    live = [
        client.models.generate_content(model=FLASH2, contents="a cat"),
        client.models.generate_content(
            model=FLASH2, contents="a dog on a beach", config=types.GenerateContentConfig(**wide)
        ),
    ]
    for from_batch, alone in zip(batched, live, strict=True):
        assert images(from_batch) and images(from_batch) == images(alone)
        assert from_batch.text == alone.text
        assert from_batch.response_id == alone.response_id
        assert from_batch.usage_metadata.total_token_count == alone.usage_metadata.total_token_count


def test_a_pending_job_draws_nothing_yet(client, sim):
    sim.batch_timing = HOLD
    create(client, ask("a cat"))
    time.sleep(0.2)
    alone = client.models.generate_content(model=LITE, contents="a cat")
    assert "take" not in alone.text  # the batch's drawing would have made this take 2


def test_a_drawn_request_counts_as_a_take_for_live_calls(client, sim):
    sim.batch_timing = AT_ONCE
    wait_until_ended(client, create(client, ask("a cat")).name)
    again = client.models.generate_content(model=LITE, contents="a cat")
    assert "take 2" in again.text


def test_a_refused_request_is_its_responses_error_and_the_others_succeed(client, sim):
    sim.batch_timing = AT_ONCE
    job = create(
        client, ask("a cat"), ask("a dog", image_config={"image_size": "4K"}), ask("a cow")
    )
    first, bad, last = wait_until_ended(client, job.name).dest.inlined_responses
    assert images(first.response) and images(last.response)
    assert bad.response is None
    assert bad.error.code == 3  # google.rpc.Code INVALID_ARGUMENT
    assert "image_size '4K' is not supported by gemini-3.1-flash-lite-image" in bad.error.message


def test_injected_faults_shape_single_requests_of_a_batch(client, sim):
    sim.batch_timing = AT_ONCE
    sim.inject(Fault.http(503))
    sim.inject(Fault.block("PROHIBITED_CONTENT"))
    sim.inject(Fault.finish("IMAGE_SAFETY"))
    job = create(client, ask("one"), ask("two"), ask("three"), ask("four"))
    assert sim.faults == []
    unavailable, blocked, refused, fine = wait_until_ended(client, job.name).dest.inlined_responses
    assert unavailable.error.code == 14 and unavailable.response is None  # UNAVAILABLE
    assert blocked.response.prompt_feedback.block_reason == "PROHIBITED_CONTENT"
    assert refused.response.candidates[0].finish_reason == "IMAGE_SAFETY"
    assert images(fine.response)


def test_metadata_comes_back_with_each_response(client, sim):
    sim.batch_timing = AT_ONCE
    job = create(client, {**ask("a cat"), "metadata": {"key": "cat-1"}}, ask("a dog"))
    tagged, untagged = wait_until_ended(client, job.name).dest.inlined_responses
    assert tagged.metadata == {"key": "cat-1"} and untagged.metadata is None


def test_a_text_model_answers_each_request_with_an_error(client, sim):
    sim.batch_timing = AT_ONCE
    job = create(client, ask("a cat"), model="gemini-3-flash")
    [only] = wait_until_ended(client, job.name).dest.inlined_responses
    assert only.error.code == 3 and "does not generate images" in only.error.message


# ---------------------------------------------------------------- refusals


def test_display_name_is_required(client, sim):
    error = rejected(lambda: client.batches.create(model=LITE, src=[ask("a cat")]), 400)
    assert error.status == "INVALID_ARGUMENT" and "display_name" in error.message
    assert client.batches.list().page == []


def test_a_shut_down_model_is_404_like_generate_content(client, sim):
    for model in ("gemini-3-pro-image-preview", "imagen-4.0-generate-001"):
        error = rejected(lambda model=model: create(client, ask("a cat"), model=model), 404)
        assert error.status == "NOT_FOUND"
        assert f"models/{model} is not found for API version v1" in error.message


def test_a_batch_over_20_mb_is_refused_and_its_halves_are_accepted(client, sim):
    sim.batch_timing = HOLD
    big = [ask(f"{i} " + "a very long prompt " * 400_000) for i in range(3)]  # 7.6 MB each
    error = rejected(lambda: create(client, *big), 400)
    assert error.message == "Request payload size exceeds the limit: 20971520 bytes."
    assert create(client, *big[:2]).state == State.JOB_STATE_PENDING
    assert create(client, big[2]).state == State.JOB_STATE_PENDING


def test_a_wrong_key_is_refused_for_every_batch_call():
    with Simulator(api_key="the-right-key") as strict:
        wrong = sdk_client(strict)  # sends KEY, which is not the right one
        assert rejected(lambda: create(wrong, ask("a cat")), 400).status == "INVALID_ARGUMENT"
        assert rejected(lambda: list(wrong.batches.list()), 400).status == "INVALID_ARGUMENT"
        rejected(lambda: wrong.batches.get(name="batches/any"), 400)


# ---------------------------------------------------------------- state and control


def test_jobs_survive_a_restart_on_the_same_state_dir(tmp_path: Path):
    with Simulator(state_dir=tmp_path) as first:
        first.batch_timing = AT_ONCE
        client = sdk_client(first)
        done = wait_until_ended(client, create(client, ask("a cat")).name)
        first.batch_timing = (0.5, 0.5)
        waiting = create(client, *(ask(f"dog {i}") for i in range(4)))
    assert list((tmp_path / "batches").glob("*.json"))
    with Simulator(state_dir=tmp_path) as second:
        client = sdk_client(second)
        again = client.batches.get(name=done.name)
        assert again.state == State.JOB_STATE_SUCCEEDED
        [before], [after] = done.dest.inlined_responses, again.dest.inlined_responses
        assert images(after.response) == images(before.response)
        finished = wait_until_ended(client, waiting.name)
        assert finished.state == State.JOB_STATE_SUCCEEDED
        assert all(images(r.response) for r in finished.dest.inlined_responses)
        assert {job.name for job in client.batches.list()} == {done.name, waiting.name}


def test_a_job_keeps_progressing_while_no_simulator_runs(tmp_path: Path):
    with Simulator(state_dir=tmp_path) as first:
        first.batch_timing = (0.3, 0.3)
        client = sdk_client(first)
        job = create(client, ask("a cat"))
    time.sleep(0.7)
    with Simulator(state_dir=tmp_path) as second:
        client = sdk_client(second)
        assert wait_until_ended(client, job.name).state == State.JOB_STATE_SUCCEEDED


def test_without_a_state_dir_jobs_live_as_long_as_the_simulator():
    memory = Simulator()
    assert memory.state_dir is None
    with memory:
        memory.batch_timing = HOLD
        job = create(sdk_client(memory), ask("a cat"))
    with memory:  # stopped and started again: on a new port, with the same jobs
        again = sdk_client(memory)  # kept alive: a dropped client closes its connections
        assert again.batches.get(name=job.name).state == State.JOB_STATE_PENDING
    with Simulator() as other:
        elsewhere = sdk_client(other)
        rejected(lambda: elsewhere.batches.get(name=job.name), 404)


def test_reset_forgets_jobs_and_restores_the_timing(client, sim):
    sim.batch_timing = HOLD
    create(client, ask("a cat"))
    sim.reset()
    assert client.batches.list().page == []
    assert sim.batch_timing == (0.5, 1.0)


def test_the_control_surface_sets_timing_and_failures(client, sim):
    status, state = control(sim, "POST", "/_simulator/batches", {"timing": [30, 30]})
    assert status == 200 and state == {"timing": [30.0, 30.0], "jobs": []}
    job = create(client, ask("a cat"))
    listed = control(sim, "GET", "/_simulator/batches")[1]["jobs"]
    assert listed == [{"name": job.name, "displayName": "test", "state": "BATCH_STATE_PENDING"}]
    control(sim, "POST", "/_simulator/batches", {"timing": [0, 0], "fail_next": "boom"})
    failed = wait_until_ended(client, create(client, ask("a dog")).name)
    assert failed.state == State.JOB_STATE_FAILED
    assert control(sim, "POST", "/_simulator/batches", {"speed": 2})[0] == 400
    assert control(sim, "DELETE", "/_simulator/batches")[1]["jobs"] == []
