"""Live thoughts: a ``--thoughts`` call streams, and what it keeps, commits and sends back.

Every call goes through the SDK (``generate_content_stream``) to the simulator's
``:streamGenerateContent?alt=sse``, which tells the reply as Google does: thoughts, two
drafts (the last equal to the final picture), then the signed answer parts.
"""

from __future__ import annotations

import _thread
import base64
import json
import math
import threading
import time
import urllib.request

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import nb_banana
from nb_banana.context import context, open_store, session, settings
from nb_banana.gemini import stream
from nb_banana.memory.session import Session
from nb_banana.simulator import Fault

from .cells import run
from .conftest import TEST_KEY

STREAM_PATH = ":streamGenerateContent"


def html_of(captured) -> str:
    return "".join(o.data.get("text/html", "") for o in captured.outputs)


def paths(sim) -> list[str]:
    return [r.path.split("?")[0] for r in sim.requests]


def stored_rows() -> int:
    store = open_store(settings().store)
    return store._db.execute("SELECT count(*) FROM generations").fetchone()[0]


def test_a_thoughts_cell_streams_and_keeps_thoughts_and_drafts_apart(ip, sim, tmp_path):
    captured = run(ip, "-m pro --thoughts", "a lighthouse at dusk")
    result = ip.user_ns["_banana"]
    assert sim.requests[-1].path.endswith(f"{STREAM_PATH}?alt=sse")
    assert "**Planning the picture**" in result.thoughts
    assert len(result.drafts) == 2 and len(result.outputs) == 1
    assert result.drafts[-1].data == result.outputs[0].data  # the last draft is the final
    assert result.drafts[0].data != result.outputs[0].data
    shown = html_of(captured)
    assert "<summary>Thoughts and 2 draft(s)</summary>" in shown
    assert "<strong>Planning the picture</strong>" in shown
    # Drafts are never results: one file saved, the final picture's bytes.
    saved = result.save(tmp_path / "out")
    assert len(saved) == 1 and saved[0].read_bytes()[:64] == result.outputs[0].data[:64]
    # Usage is the last chunk's (earlier chunks carry less): Pro's 1120 tokens for a 1K
    # picture and the answer's text at the simulator's four characters a token.
    assert result.usage.output_tokens == 1120 + math.ceil(len(result.text) / 4)
    assert result.usage.thought_tokens > 0


def test_generate_with_thoughts_streams(sim):
    result = nb_banana.generate("a red kite", model="pro", thoughts=True)
    assert paths(sim)[-1].endswith(STREAM_PATH)
    assert result.thoughts and len(result.drafts) == 2


def test_without_thoughts_nothing_streams(ip, sim):
    run(ip, "-m pro", "a plain cat")
    run(ip, "-m pro --thoughts -n 2", "two thinking cats")
    run(ip, "-m lite,pro --thoughts", "a compared cat")
    assert not any(p.endswith(STREAM_PATH) for p in paths(sim))


def test_a_chat_follow_up_sends_the_final_parts_and_signatures_and_no_thought_image(ip, sim):
    run(ip, "-m pro --thoughts -c s", "a red house")
    first = ip.user_ns["_banana"]
    run(ip, "-c s", "make it blue")
    assert ip.user_ns["_banana"].turn == 2  # the simulator checked every signature
    body = sim.requests[-1].body
    model_turn = next(c for c in body["contents"] if c["role"] == "model")
    parts = model_turn["parts"]
    assert not any(p.get("thought") and "inlineData" in p for p in parts)
    images = [p for p in parts if "inlineData" in p]
    assert len(images) == 1
    assert base64.urlsafe_b64decode(images[0]["inlineData"]["data"]) == first.outputs[0].data
    received = [p for p in first.replies[0].content.parts if p.thought_signature]
    sent = [p for p in parts if "thoughtSignature" in p]
    assert [base64.urlsafe_b64decode(p["thoughtSignature"]) for p in sent] == [
        p.thought_signature for p in received
    ]
    # The answer's text, its picture, and the last chunk's empty text with its signature.
    assert [("inlineData" in p, p.get("text")) for p in sent] == [
        (False, first.text), (True, None), (False, "")
    ]  # fmt: skip
    thoughts = [p for p in parts if p.get("thought")]
    assert len(thoughts) == 1 and thoughts[0]["text"] == first.thoughts


def test_interrupt_mid_stream_leaves_the_chat_unchanged(ip, sim, monkeypatch):
    run(ip, "-m pro -c mid", "a quiet harbour")
    turns = [t.to_json() for t in session().chats.get("mid").turns]
    rows = stored_rows()
    chunks = threading.Event()
    add = stream.Assembly.add

    def seen(self, chunk):  # a spy: the stream has begun arriving
        glimpse = add(self, chunk)
        chunks.set()
        return glimpse

    monkeypatch.setattr(stream.Assembly, "add", seen)
    sim.stream_seconds = 4.0

    def interrupt_when_streaming() -> None:
        chunks.wait(10)
        _thread.interrupt_main()

    interrupter = threading.Thread(target=interrupt_when_streaming)
    interrupter.start()
    started = time.monotonic()
    with pytest.raises(UsageError) as info:
        run(ip, "-c mid --thoughts", "make it stormy")
    interrupter.join()
    assert chunks.is_set() and time.monotonic() - started < 3.0
    assert str(info.value) == "Cancelled: the call was stopped and nothing was changed."
    assert [t.to_json() for t in session().chats.get("mid").turns] == turns
    assert stored_rows() == rows
    sim.stream_seconds = 0.0
    run(ip, "-c mid", "make it sunny")
    users = [c for c in sim.requests[-1].body["contents"] if c["role"] == "user"]
    assert [c["parts"][0]["text"] for c in users] == ["a quiet harbour", "make it sunny"]


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (Fault.cut_stream(after=3), "dropped in the middle of the reply"),
        (Fault.stream_error(after=2, status=503), "The Gemini service failed (503"),
    ],
    ids=["cut", "error-event"],
)
def test_a_broken_stream_is_one_line_and_commits_nothing(ip, sim, fault, said):
    run(ip, "-m pro -c brk", "a paper boat")
    turns = [t.to_json() for t in session().chats.get("brk").turns]
    rows, asked = stored_rows(), len(sim.requests)
    sim.inject(fault)
    with pytest.raises(UsageError) as info:
        run(ip, "-c brk --thoughts", "make it sail")
    message = str(info.value)
    assert "\n" not in message and said in message
    assert message.startswith(
        f"The stream broke after {fault.after} chunk(s) and nothing was kept."
    )
    assert len(sim.requests) == asked + 1  # not retried mid-stream
    assert [t.to_json() for t in session().chats.get("brk").turns] == turns
    assert stored_rows() == rows


def test_a_rerun_from_the_store_makes_no_call_and_shows_the_thoughts(ip, sim):
    run(ip, "-m pro --thoughts", "an old windmill")
    first = ip.user_ns["_banana"]
    asked = len(sim.requests)
    session_before = session()
    context().session = Session()  # a restarted kernel's chats: only the store knows
    try:
        captured = run(ip, "-m pro --thoughts", "an old windmill")
    finally:
        context().session = session_before
    again = ip.user_ns["_banana"]
    assert len(sim.requests) == asked and again.cached
    assert again.thoughts == first.thoughts
    assert [d.data for d in again.drafts] == [d.data for d in first.drafts]
    assert "<summary>Thoughts and 2 draft(s)</summary>" in html_of(captured)


def test_the_simulator_streams_sse_events_as_google_frames_them(sim):
    from nb_banana.gemini.models import resolve_model

    model = resolve_model("pro").id
    body = {
        "contents": [{"role": "user", "parts": [{"text": "a tin robot"}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"],
                             "thinkingConfig": {"includeThoughts": True}},
    }  # fmt: skip
    request = urllib.request.Request(
        f"{sim.url}/v1beta/models/{model}:streamGenerateContent?alt=sse",
        data=json.dumps(body).encode(),
        headers={"x-goog-api-key": TEST_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        raw = response.read()
    events = [e for e in raw.split(b"\r\n\r\n") if e]
    assert all(e.startswith(b"data: {") and b"\n" not in e for e in events)
    chunks = [json.loads(e[len(b"data: ") :]) for e in events]
    parts = [c["candidates"][0]["content"]["parts"][0] for c in chunks]
    assert parts[0].get("thought") is True and "text" in parts[0]
    drafts = [p for p in parts if p.get("thought") and "inlineData" in p]
    finals = [p for p in parts if not p.get("thought") and "inlineData" in p]
    assert len(drafts) == 2 and len(finals) == 1
    assert drafts[-1]["inlineData"]["data"] == finals[0]["inlineData"]["data"]
    assert parts.index(drafts[-1]) < parts.index(finals[0]) and "thoughtSignature" in finals[0]
    reasons = [c["candidates"][0].get("finishReason") for c in chunks]
    assert reasons == [None] * (len(chunks) - 1) + ["STOP"]
    assert parts[-1]["text"] == "" and "thoughtSignature" in parts[-1]
    totals = [c["usageMetadata"]["totalTokenCount"] for c in chunks]
    assert totals == sorted(totals) and totals[0] < totals[-1]


def test_stream_seconds_spreads_the_events(sim):
    sim.stream_seconds = 1.0
    started = time.monotonic()
    result = nb_banana.generate("a slow snail", model="pro", thoughts=True)
    assert result.drafts and time.monotonic() - started >= 0.9


def test_the_cell_shows_thoughts_then_a_draft_then_the_picture_in_place(ip, sim, monkeypatch):
    monkeypatch.setattr(ip, "kernel", object(), raising=False)  # as in Jupyter: live displays
    sim.stream_seconds = 1.5
    with capture_output() as captured:
        ip.run_cell_magic("banana", "-m pro --thoughts", "a glass greenhouse")
    shown = [(o.data.get("text/html", ""), o.transient) for o in captured.outputs]
    ids = {transient["display_id"] for _, transient in shown if transient}
    assert len(ids) == 1  # one display, updated in place
    first_thought = next(i for i, (h, _) in enumerate(shown) if "Planning the picture" in h
                         and "nb-banana-live" in h)  # fmt: skip
    first_draft = next(i for i, (h, _) in enumerate(shown) if "nb-banana-draft" in h)
    final = next(i for i, (h, _) in enumerate(shown) if "nb-banana-result" in h)
    last_update = max(i for i, (_, transient) in enumerate(shown) if transient)
    assert 0 < first_thought < first_draft < final == last_update
    assert "<strong>Planning the picture</strong>" in shown[first_thought][0]
    assert "nb-banana-live" not in shown[final][0]


@pytest.fixture
def panel(ip, sim):
    from nb_banana.faces.panel import Panel
    from nb_banana.turns import catalog

    shown = Panel(namespace=ip.user_ns)
    catalog.wait()
    sim.clear_requests()
    yield shown
    shown.close()
    shown.wait(10)


def until(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_panel_shows_the_thoughts_and_the_latest_draft_live(panel, sim):
    sim.stream_seconds = 1.5
    panel.form.model.value = "gemini-3-pro-image"
    panel.form.thoughts.value = True
    panel.form.prompt.value = "a paper lantern"
    panel.generate_button.click()
    assert until(lambda: "<strong>Planning the picture</strong>" in panel.live.value)
    assert panel.live.layout.display == "" and "thinking" in panel.message
    assert "nb-banana-draft" not in panel.live.value  # thoughts come before the drafts
    assert until(lambda: "nb-banana-draft" in panel.live.value)
    panel.wait(10)
    result = panel._ns["_banana"]
    assert panel.live.layout.display == "none" and panel.message.startswith("Done")
    assert len(result.drafts) == 2 and len(panel.gallery.pictures) == 1
    assert sim.requests[-1].path.split("?")[0].endswith(STREAM_PATH)


def test_stop_mid_stream_in_the_panel_commits_nothing(panel, sim):
    sim.stream_seconds = 4.0
    panel.form.model.value = "gemini-3-pro-image"
    panel.form.thoughts.value = True
    panel.form.prompt.value = "a slow lantern"
    panel.generate_button.click()
    assert until(lambda: "Planning the picture" in panel.live.value)
    panel.stop_button.click()
    panel.wait(2)
    assert panel.message.startswith("Cancelled") and panel.live.layout.display == "none"
    assert session().chats.chats == {} and panel.gallery.pictures == []


def test_waiting_for_a_stream_does_not_spin(sim):
    nb_banana.generate("a warm-up kite", model="pro", thoughts=True)  # the SDK loaded, pools open
    sim.stream_seconds = 1.5
    busy = time.thread_time()
    nb_banana.generate("a patient kite", model="pro", thoughts=True)
    assert time.thread_time() - busy < 0.5  # the waiting thread sleeps between chunks
