"""The fault matrix: every way a call can fail, through the real SDK against the simulator.

For each fault a test proves (a) the exact line the user reads, (b) that chats, store,
settings and the kernel's totals are as they were (and the next cell works), (c) for
transient faults, that backoff succeeds once the fault clears and stops at
``Banana.retries``, and (d) that no traceback is printed until ``%banana error`` asks.
"""

from __future__ import annotations

import io
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.genai import errors as sdk_errors
from google.genai import types
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from nb_banana.answer import display
from nb_banana.answer.result import Result
from nb_banana.context import session, settings
from nb_banana.errors import NoImageError
from nb_banana.gemini.engine import translate
from nb_banana.gemini.request import build_request
from nb_banana.gemini.wire import parse_reply
from nb_banana.memory.store import Store
from nb_banana.simulator import Fault

from .cells import run
from .conftest import TEST_KEY

PRO = "gemini-3-pro-image"
RATE_FIX = "and re-run, or lower -n / %config Banana.max_concurrency."
BRIEF = "; this is usually brief: re-run the cell in a minute."
KEY_FIX = "check GEMINI_API_KEY or run `%banana key` again."


@dataclass(frozen=True)
class Case:
    """One fault; ``message`` is the whole line shown (``{url}`` is the simulator's)."""

    fault: Fault | None  # None: the cell itself provokes the error
    message: str
    line: str = "-c house"


CASES: dict[str, Case] = {
    "400": Case(
        Fault.http(400),
        "The API rejected the request (400 INVALID_ARGUMENT): Request contains an invalid "
        "argument. Check the options and images.",
    ),
    "401": Case(
        Fault.http(401, "API key expired. Please renew the API key."),
        f"The API refused the key (401 UNAUTHENTICATED: API key expired. Please renew the API "
        f"key.): {KEY_FIX}",
    ),
    "403": Case(
        Fault.http(403),
        f"The API refused the key (403 PERMISSION_DENIED: The caller does not have "
        f"permission.): {KEY_FIX}",
    ),
    "404-unknown-model": Case(
        None,
        "The API does not serve gemini-9-ultra (404 NOT_FOUND): `%banana models` lists the "
        "models it serves today, and any of their full ids works with -m.",
        line="-m gemini-9-ultra",
    ),
    "429-retry-after": Case(
        Fault.http(429, retry_after=30),
        f"Rate limit reached (429 RESOURCE_EXHAUSTED): wait 30 s (the server asked) {RATE_FIX}",
    ),
    "429": Case(
        Fault.http(429), f"Rate limit reached (429 RESOURCE_EXHAUSTED): wait a minute {RATE_FIX}"
    ),
    "500": Case(Fault.http(500), f"The Gemini service failed (500 INTERNAL){BRIEF}"),
    "503": Case(Fault.http(503), f"The Gemini service failed (503 UNAVAILABLE){BRIEF}"),
    "slow-past-timeout": Case(
        Fault.slow(3),
        "No reply within 0.5 s: re-run the cell, or raise the limit with "
        "%config Banana.timeout = 1.",
    ),
    "dropped-mid-body": Case(
        Fault.drop(), "The connection to {url} dropped in the middle of the reply: re-run the cell."
    ),
    "malformed-json": Case(
        Fault.malformed_json(),
        "The API sent a reply that could not be read (not valid JSON): re-run the cell.",
    ),
    "empty-candidates": Case(
        Fault.empty_candidates(),
        "The model returned no answer at all (no candidates): re-run the cell.",
    ),
    "blocked-prompt": Case(
        Fault.block("PROHIBITED_CONTENT"),
        "The prompt was blocked (PROHIBITED_CONTENT) before any image was made: rephrase it, "
        "or change the reference images.",
    ),
    "IMAGE_SAFETY": Case(
        Fault.finish("IMAGE_SAFETY"),
        "No image: the image was withheld by the safety filter (IMAGE_SAFETY); rephrase the "
        "prompt or change the reference images.",
    ),
    "IMAGE_PROHIBITED_CONTENT": Case(
        Fault.finish("IMAGE_PROHIBITED_CONTENT"),
        "No image: the image would show prohibited content (IMAGE_PROHIBITED_CONTENT); "
        "rephrase the prompt or change the reference images.",
    ),
    "IMAGE_RECITATION": Case(
        Fault.finish("IMAGE_RECITATION"),
        "No image: the image resembled protected material too closely (IMAGE_RECITATION); "
        "describe it in your own words instead of naming a protected work.",
    ),
    "IMAGE_OTHER": Case(
        Fault.finish("IMAGE_OTHER"),
        "No image: the model could not make the image (IMAGE_OTHER); re-run the cell or "
        "rephrase the prompt.",
    ),
    "NO_IMAGE": Case(
        Fault.finish("NO_IMAGE"),
        "The model chose not to draw (NO_IMAGE): ask for an image explicitly, e.g. "
        "'Generate an image of …'.",
    ),
    "MISSING_THOUGHT_SIGNATURE": Case(
        Fault.finish("MISSING_THOUGHT_SIGNATURE"),
        "The chat history reached the model without its thought signatures "
        "(MISSING_THOUGHT_SIGNATURE): start a new chat with a plain %%banana cell.",
    ),
    "text-only": Case(
        Fault.text_only("I would rather describe it:\n a cat   on a mat."),
        "The model answered without an image (STOP). It said: “I would rather describe it: a "
        "cat on a mat.” Ask for an image explicitly, e.g. 'Generate an image of …'.",
    ),
    "undecodable-image": Case(
        Fault.bad_image(),
        "The reply's image could not be decoded (UnidentifiedImageError): re-run the cell.",
    ),
}

# Faults the SDK retries (HttpRetryOptions: 408/429/5xx, timeouts, refused connections).
TRANSIENT: dict[str, Fault] = {
    "429-retry-after": Fault.http(429, retry_after=30),
    "429": Fault.http(429),
    "500": Fault.http(500),
    "503": Fault.http(503),
    "slow-past-timeout": Fault.slow(3),
}


def fails(ip, line: str, cell: str) -> str:
    with pytest.raises(UsageError) as info, capture_output():
        ip.run_cell_magic("banana", line, cell)
    return str(info.value)


def state(ip) -> dict[str, Any]:
    """Everything a failed call must leave alone, as a user could inspect it."""
    s = settings()
    chats = session().chats
    store = Store(Path(s.store))
    try:
        saved_chats = store.load_chats(chats.scope)
        rows = [(r.id, r.prompt, r.cache_key) for r in store.search(limit=100)]
    finally:
        store.close()
    blobs = sorted(str(p) for p in (Path(s.store) / "blobs").rglob("*") if p.is_file())
    kernel = session()
    return {
        "chats": {name: [t.to_json() for t in c.turns] for name, c in chats.chats.items()},
        "current": chats.current,
        "stored chats": saved_chats,
        "stored generations": rows,
        "blobs": blobs,
        "settings": {name: getattr(s, name) for name in s.trait_names(config=True)},
        "totals": (kernel.calls, kernel.images, kernel.tokens, kernel.cost),
        "_banana": id(ip.user_ns.get("_banana")),
    }


@pytest.fixture
def house(ip, sim):
    """A Pro chat 'house' with one turn, and settings for one attempt with a short timeout."""
    ip.run_line_magic("config", "Banana.retries = 0")
    ip.run_line_magic("config", "Banana.timeout = 0.5")
    run(ip, "-m pro -c house", "a house")
    sim.clear_requests()
    return ip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fault_shows_one_line_changes_nothing_and_keeps_the_traceback(house, sim, case):
    ip = house
    before = state(ip)
    if case.fault is not None:
        sim.inject(case.fault)
    with capture_output() as shown:
        outcome = ip.run_cell(f"%%banana {case.line}\nadd a dragon\n")
    expected = case.message.format(url=sim.url)
    # (a) and (d): the one line, nothing else: no traceback, no half-drawn output.
    assert isinstance(outcome.error_in_exec, UsageError)
    assert shown.stderr == f"UsageError: {expected}\n"
    assert shown.stdout == "" and shown.outputs == []
    assert TEST_KEY not in shown.stderr
    assert len(sim.requests) == 1
    # (b): chats (in memory and in the store), generations, blobs, settings, totals.
    assert state(ip) == before
    # (d): the traceback was kept, for %banana error only.
    with capture_output() as details:
        ip.run_line_magic("banana", "error")
    assert "Traceback (most recent call last):" in details.stdout
    assert details.stdout.rstrip().endswith(expected)
    assert TEST_KEY not in details.stdout
    # ... and the thread goes on as if the failed cell had never run.
    run(ip, "-c house", "add a garden")
    contents = sim.requests[-1].body["contents"]
    assert [c["parts"][0].get("text") for c in contents if c["role"] == "user"] == [
        "a house",
        "add a garden",
    ]


@pytest.mark.parametrize("fault", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_fault_is_retried_with_backoff_and_succeeds_once_it_clears(ip, sim, fault):
    ip.run_line_magic("config", "Banana.retries = 3")
    ip.run_line_magic("config", "Banana.retry_delay = 0.2")
    ip.run_line_magic("config", "Banana.timeout = 0.5")
    sim.inject(fault, times=2)
    started = time.monotonic()
    run(ip, "", "a cat")
    elapsed = time.monotonic() - started
    assert len(sim.requests) == 3
    assert ip.user_ns["_banana"].images[0].size == (1024, 1024)
    # Exponential backoff: about 0.2 s, then 0.4 s (plus jitter) between the attempts.
    waited_for_timeouts = 2 * 0.5 if fault.kind == "slow" else 0.0
    assert elapsed >= 0.2 + 0.4 + waited_for_timeouts


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (TRANSIENT["429-retry-after"], "Rate limit reached (429 RESOURCE_EXHAUSTED) after 3 "
         f"attempts: wait 30 s (the server asked) {RATE_FIX}"),
        (TRANSIENT["429"], "Rate limit reached (429 RESOURCE_EXHAUSTED) after 3 attempts: wait "
         f"a minute {RATE_FIX}"),
        (TRANSIENT["500"], f"The Gemini service failed (500 INTERNAL) after 3 attempts{BRIEF}"),
        (TRANSIENT["503"], f"The Gemini service failed (503 UNAVAILABLE) after 3 attempts{BRIEF}"),
        (TRANSIENT["slow-past-timeout"], "No reply within 0.3 s after 3 attempts: re-run the "
         "cell, or raise the limit with %config Banana.timeout = 0.6."),
    ],
    ids=TRANSIENT.keys(),
)  # fmt: skip
def test_transient_fault_stops_at_the_configured_retry_limit(ip, sim, fault, expected):
    ip.run_line_magic("config", "Banana.retries = 2")
    ip.run_line_magic("config", "Banana.timeout = 0.3")
    sim.inject(fault, times=10)
    assert fails(ip, "", "a cat") == expected
    assert len(sim.requests) == 3
    assert len(sim.faults) == 7


@pytest.mark.parametrize(
    "fault",
    [Fault.http(400), Fault.http(401), Fault.http(403), Fault.http(404), Fault.drop(),
     Fault.malformed_json(), Fault.empty_candidates(), Fault.block(), Fault.finish("NO_IMAGE"),
     Fault.text_only(), Fault.bad_image()],
    ids=["400", "401", "403", "404", "dropped-mid-body", "malformed-json", "empty-candidates",
         "blocked-prompt", "NO_IMAGE", "text-only", "undecodable-image"],
)  # fmt: skip
def test_permanent_or_paid_fault_is_not_retried(ip, sim, fault):
    """A retry cannot fix these, or the reply was already made (and billed) before it broke."""
    ip.run_line_magic("config", "Banana.retries = 3")
    sim.inject(fault, times=4)
    fails(ip, "", "a cat")
    assert len(sim.requests) == 1


def test_unreachable_endpoint_is_retried_then_reported(ip, sim):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ip.run_line_magic("config", f'Banana.base_url = "http://127.0.0.1:{port}"')
    ip.run_line_magic("config", "Banana.retries = 1")
    assert fails(ip, "", "a cat") == (
        f"Could not connect to http://127.0.0.1:{port} after 2 attempts: check the network (or "
        "GOOGLE_GEMINI_BASE_URL); `%banana offline` works without one."
    )


def test_some_samples_failing_keeps_the_others_and_says_so(ip, sim):
    ip.run_line_magic("config", "Banana.retries = 0")
    sim.inject(Fault.http(500))
    captured = run(ip, "-n 4 -c set", "four cats")
    result = ip.user_ns["_banana"]
    assert len(result.outputs) == 3
    note = f"1 of 4 samples failed: The Gemini service failed (500 INTERNAL){BRIEF}"
    assert f"note: {note}" in captured.outputs[0].data["text/plain"]
    assert len(session().chats.get("set").turns[0].samples) == 3


def test_all_samples_failing_reports_the_first_failure(ip, sim):
    ip.run_line_magic("config", "Banana.retries = 0")
    sim.inject(Fault.finish("IMAGE_SAFETY"), times=4)
    assert "(IMAGE_SAFETY)" in fails(ip, "-n 4 -c set", "four cats")
    assert "set" not in session().chats.chats


def test_retry_delay_in_the_error_body_is_read_when_there_is_no_header():
    """The API states the wait as google.rpc.RetryInfo in the body; the header is optional."""
    body = {"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED",
                      "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                   "retryDelay": "31s"}]}}  # fmt: skip
    error = translate(
        sdk_errors.ClientError(429, body), model_id=PRO, endpoint="x", timeout=1, attempts=1
    )
    assert "wait 31 s (the server asked)" in str(error)


def test_truncated_jpeg_in_a_reply_is_refused_before_it_reaches_the_chat():
    """JPEG has no checksums, so a cut-off one passes Pillow's ``verify``; it must not pass us."""
    buffer = io.BytesIO()
    Image.effect_noise((600, 600), 64).convert("RGB").save(buffer, "JPEG")
    part = types.Part.from_bytes(data=buffer.getvalue()[:-5000], mime_type="image/jpeg")
    response = types.GenerateContentResponse(
        candidates=[types.Candidate(content=types.Content(role="model", parts=[part]))]
    )
    with pytest.raises(NoImageError, match=r"^The reply's image could not be decoded \(OSError\)"):
        parse_reply(response)


def test_a_source_that_is_not_a_web_address_is_shown_as_text_not_a_link():
    """A reply's grounding is data from the network: only http(s) addresses become links."""
    web = types.GroundingChunkWeb
    metadata = types.GroundingMetadata(
        grounding_chunks=[
            types.GroundingChunk(web=web(uri="javascript:alert(1)", title="x")),
            types.GroundingChunk(web=web(uri="https://ok.example/", title="ok")),
            types.GroundingChunk(web=None),
        ]
    )
    response = _image_response()
    response.candidates[0].grounding_metadata = metadata
    request = build_request(["a map"], model="lite", aspect="1:1", size="1K")
    result = Result(request, (parse_reply(response),), 0.1)
    shown = "".join(display.grounding_html(result))
    assert [s.title for s in result.sources] == ["x", "ok"]
    assert 'href="javascript' not in shown
    assert '<a href="https://ok.example/" target="_blank" rel="noopener">ok</a>' in shown
    assert "🔎 Sources: x · <a" in shown


def _image_response() -> types.GenerateContentResponse:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    part = types.Part.from_bytes(data=buffer.getvalue(), mime_type="image/png")
    return types.GenerateContentResponse(
        candidates=[types.Candidate(content=types.Content(role="model", parts=[part]))]
    )
