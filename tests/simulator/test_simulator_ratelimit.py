"""The simulator's rate limit and concurrency, always through the real SDK (and raw HTTP for
the control surface and the command line).

A client that sends many pictures at once must read the API's 429 (RetryInfo, QuotaFailure,
Retry-After), wait the delay it names and get through; these tests prove the simulator
gives it exactly that to read.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from google import genai
from google.genai import errors, types

from nb_banana.simulator import Simulator

from .conftest import KEY

LITE = "gemini-3.1-flash-lite-image"
FLASH2 = "gemini-3.1-flash-image"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"


def draw(client: genai.Client, text: str = "a cat", model: str = LITE) -> Any:
    return client.models.generate_content(model=model, contents=text)


def refused(client: genai.Client, text: str = "a cat", model: str = LITE) -> errors.ClientError:
    with pytest.raises(errors.ClientError) as info:
        draw(client, text, model)
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    return info.value


def detail(error: errors.ClientError, kind: str) -> dict[str, Any]:
    [found] = [d for d in error.details["error"]["details"] if d["@type"] == kind]
    return found


def retry_delay(error: errors.ClientError) -> float:
    """The RetryInfo delay in seconds, checked to be a protobuf Duration."""
    text = detail(error, RETRY_INFO)["retryDelay"]
    assert re.fullmatch(r"\d+(\.\d{3})?s", text), text
    return float(text[:-1])


def control(sim: Simulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(sim.url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_requests_past_the_limit_get_429_with_retry_info_quota_failure_and_retry_after(client, sim):
    sim.rate_limit = (3, 30.0)
    for i in range(3):
        draw(client, f"cat {i}")
    error = refused(client, "cat 3")
    assert 0 < retry_delay(error) <= 30
    assert 1 <= int(error.response.headers["retry-after"]) <= 30
    violation = detail(error, QUOTA_FAILURE)["violations"][0]
    assert violation["quotaValue"] == "3"
    assert violation["quotaDimensions"]["model"] == LITE
    assert "Please retry in" in error.message and "limit: 3" in error.message
    assert sim.rate_limited == 1


def test_waiting_the_retry_delay_gets_through(client, sim):
    sim.rate_limit = (2, 1.0)
    draw(client, "one")
    draw(client, "two")
    delay = retry_delay(refused(client, "three"))
    assert delay <= 1.0
    time.sleep(delay)
    assert draw(client, "three").parts
    assert sim.rate_limited == 1


def test_a_client_that_retries_at_once_stays_refused(client, sim):
    sim.rate_limit = (1, 30.0)
    draw(client)
    for _ in range(3):
        refused(client)
    assert sim.rate_limited == 3


def test_the_limit_counts_each_model_apart(client, sim):
    sim.rate_limit = (1, 30.0)
    draw(client, model=LITE)
    draw(client, model=FLASH2)
    refused(client, model=LITE)


def test_refused_requests_are_recorded_and_use_up_no_take(client, sim):
    sim.rate_limit = (1, 30.0)
    draw(client, "a cat")
    refused(client, "a cat")
    sim.rate_limit = None
    again = draw(client, "a cat")
    assert "take 2" in again.text
    assert len(sim.requests) == 3


def test_lifting_the_limit_lets_everything_through(client, sim):
    sim.rate_limit = (1, 30.0)
    draw(client)
    refused(client)
    sim.rate_limit = None
    draw(client)
    draw(client)


def test_reset_lifts_the_limit_and_clears_the_count(client, sim):
    sim.rate_limit = (1, 30.0)
    draw(client)
    refused(client)
    sim.reset()
    assert sim.rate_limit is None and sim.rate_limited == 0
    draw(client)


def test_a_bad_limit_is_refused(sim):
    for bad in ((0, 10.0), (5, 0.0), (5, -1.0), (2.5, 10.0)):
        with pytest.raises((ValueError, TypeError)):
            sim.rate_limit = bad
    assert sim.rate_limit is None


def test_the_control_surface_sets_reads_and_lifts_the_limit(client, sim):
    status, state = control(sim, "POST", "/_simulator/rate_limit", {"requests": 1, "window": 30})
    assert status == 200 and state == {"requests": 1, "window": 30.0, "rate_limited": 0}
    draw(client)
    refused(client)
    assert control(sim, "GET", "/_simulator/rate_limit")[1]["rate_limited"] == 1
    assert control(sim, "DELETE", "/_simulator/rate_limit")[1]["requests"] is None
    draw(client)
    assert control(sim, "POST", "/_simulator/rate_limit", {"requests": 0, "window": 1})[0] == 400


def test_latency_still_delays_each_answer(client, sim):
    sim.latency = 0.3
    started = time.monotonic()
    draw(client)
    assert time.monotonic() - started >= 0.3


def test_concurrent_requests_wait_their_latency_side_by_side(client, sim):
    sim.latency = 0.5
    count = 16

    async def burst() -> list[types.GenerateContentResponse]:
        calls = [
            client.aio.models.generate_content(model=LITE, contents=f"cat {i}")
            for i in range(count)
        ]
        return await asyncio.gather(*calls)

    started = time.monotonic()
    responses = asyncio.run(burst())
    assert len({r.response_id for r in responses}) == count
    assert time.monotonic() - started < count * sim.latency / 2  # one by one: 8 s


def test_the_command_line_takes_a_rate_limit():
    process = subprocess.Popen(
        [sys.executable, "-m", "nb_banana.simulator", "--rate-limit", "1/30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        url = process.stdout.readline().strip().removeprefix("export GOOGLE_GEMINI_BASE_URL=")
        client = genai.Client(
            api_key=KEY,
            http_options=types.HttpOptions(
                base_url=url, retry_options=types.HttpRetryOptions(attempts=1)
            ),
        )
        draw(client)
        refused(client)
    finally:
        process.terminate()
        process.wait(timeout=10)
