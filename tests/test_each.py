"""``%%banana --each`` and ``generate_each``: many pictures at once, through the SDK.

Every run goes through the real SDK to the simulator; rate limits come from the simulator's
own limiter (``Simulator.rate_limit``) or from queued 429 faults. Pause lengths are read
from the times requests reached the simulator, never from the test's own clock, and each
assertion on time has a lower bound the code must honour and a generous upper bound.
"""

from __future__ import annotations

import _thread
import base64
import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from google.genai import errors as sdk_errors
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from jupyter_client.manager import start_new_kernel
from PIL import Image

import nb_banana
from nb_banana.answer.each_result import Failure
from nb_banana.context import open_store, settings
from nb_banana.gemini import engine
from nb_banana.simulator import Fault
from nb_banana.turns.each import Pacer

from .cells import run
from .conftest import TEST_KEY, restart_kernel
from .kernels import kernels

ANIMALS = ["a fox", "a hare", "an owl"]


def posts(sim) -> list[Any]:
    return [r for r in sim.requests if r.method == "POST"]


def prompt_of(request: Any) -> str:
    return "".join(p.get("text", "") for p in request.body["contents"][-1]["parts"])


def arrivals(sim, monkeypatch) -> list[float]:
    """When each generateContent request reached the simulator (``time.monotonic``)."""
    times: list[float] = []
    record = sim._record

    def stamped(request: Any) -> None:
        if request.method == "POST":
            times.append(time.monotonic())
        record(request)

    monkeypatch.setattr(sim, "_record", stamped)
    return times


def stored_rows() -> int:
    return open_store(settings().store).count()


def test_each_asks_once_per_element_and_keeps_element_order(ip, sim):
    settings().max_concurrency = 3
    sim.inject(Fault.slow(0.3))  # the first to arrive comes back last
    ip.user_ns.update(animals=ANIMALS, style="ukiyo-e")
    captured = run(ip, "--each animals -o out", "{item} in {style}")
    out = ip.user_ns["out"]
    assert sorted(prompt_of(r) for r in posts(sim)) == sorted(f"{a} in ukiyo-e" for a in ANIMALS)
    assert [r.request.text for r in out] == [f"{a} in ukiyo-e" for a in ANIMALS]
    assert out.labels == ANIMALS and ip.user_ns["_banana"] is out
    assert len(out.images) == 3 and out.failed == [] and out.cost > 0
    sheet = captured.outputs[0].data["text/html"]
    assert sheet.index("#0 a fox") < sheet.index("#1 a hare") < sheet.index("#2 an owl")
    assert "3 of 3 done" in captured.outputs[0].data["text/plain"]


def test_image_elements_are_sent_as_images_under_the_lists_name(ip, sim, tmp_path):
    path = tmp_path / "green.png"
    Image.new("RGB", (64, 64), "green").save(path)
    photos = [Image.new("RGB", (64, 48), "red"), np.zeros((32, 32, 3), np.uint8), path]
    ip.user_ns["photos"] = photos
    run(ip, "--each photos -o out", "Make {item} a watercolour")
    out = ip.user_ns["out"]
    for request in posts(sim):
        parts = request.body["contents"][-1]["parts"]
        assert [("text" in p, "inlineData" in p) for p in parts] == [
            (True, False),
            (False, True),
            (True, False),
        ]
    assert out.labels == ["photos[0]", "photos[1]", "photos[2]"]
    assert [r.request.text for r in out] == [f"Make [photos[{i}]] a watercolour" for i in range(3)]


def test_dict_elements_fill_their_keys(ip, sim):
    ip.user_ns["rows"] = [{"animal": "fox", "style": "ink"}, {"animal": "owl", "style": "oil"}]
    run(ip, "--each rows -o out", "a {animal} in {style}")
    out = ip.user_ns["out"]
    assert [r.request.text for r in out] == ["a fox in ink", "a owl in oil"]
    assert out.labels == ["fox · ink", "owl · oil"]


def test_a_pandas_series_is_taken_by_position(ip, sim):
    class Series:  # what --each relies on: ``iloc`` and iteration over the values
        iloc = None

        def __iter__(self):
            return iter(["a fox", "a hare"])

    ip.user_ns["column"] = Series()
    run(ip, "--each column -o out", "{item}")
    assert [r.request.text for r in ip.user_ns["out"]] == ["a fox", "a hare"]


def test_generate_each_is_the_same_run_from_python(sim):
    style = "ink"
    out = nb_banana.generate_each("a {item} in {style}", ["fox", "owl"], aspect="4:3")
    assert [r.request.text for r in out] == ["a fox in ink", "a owl in ink"]
    assert {r.request.aspect for r in out} == {"4:3"} and style == "ink"


def test_save_names_files_by_element_index_and_keeps_existing_ones(ip, sim, tmp_path):
    ip.user_ns["animals"] = [f"animal {i}" for i in range(11)]
    folder = tmp_path / "out"
    captured = run(ip, f"--each animals --save {folder}", "{item}")
    assert sorted(os.listdir(folder)) == [f"{i:02d}.png" for i in range(11)]
    said = captured.outputs[0].data["text/plain"]
    assert f"Saved 11 images: {folder / '00.png'} … 10.png" in said
    again = run(ip, f"--each animals --save {folder}", "{item}")
    assert "11 element(s) already had their file" in again.outputs[0].data["text/plain"]
    run(ip, f"--each animals -n 2 --save {folder}/two", "{item}")
    assert sorted(os.listdir(folder / "two"))[:3] == ["00-1.png", "00-2.png", "01-1.png"]


def test_save_names_do_not_change_when_the_list_grows(ip, sim, tmp_path):
    """10 elements, then 11: the first ten keep their names (and files); only 10.png is new."""
    folder = tmp_path / "out"
    ip.user_ns["animals"] = [f"animal {i}" for i in range(10)]
    run(ip, f"--each animals --save {folder}", "{item}")
    assert sorted(os.listdir(folder)) == [f"{i:02d}.png" for i in range(10)]
    written = {name: (folder / name).stat().st_mtime_ns for name in os.listdir(folder)}
    ip.user_ns["animals"].append("animal 10")
    captured = run(ip, f"--each animals --save {folder}", "{item}")
    assert sorted(os.listdir(folder)) == [f"{i:02d}.png" for i in range(11)]
    assert all((folder / name).stat().st_mtime_ns == when for name, when in written.items())
    said = captured.outputs[0].data["text/plain"]
    assert f"Saved {folder / '10.png'}" in said and "10 element(s) already had their file" in said
    assert len(posts(sim)) == 11


def test_a_saved_element_is_named_for_its_replys_format(ip, sim, tmp_path, monkeypatch):
    """A model that answers in JPEG: the saved files are ``00.jpg`` …, JPEG inside."""
    from nb_banana.simulator import replies

    answer = replies._answer_parts

    def in_jpeg(*args: Any) -> list[dict[str, Any]]:
        parts = answer(*args)
        for part in parts:
            if "inlineData" in part:
                png = Image.open(io.BytesIO(base64.b64decode(part["inlineData"]["data"])))
                buffer = io.BytesIO()
                png.convert("RGB").save(buffer, format="JPEG")
                data = base64.b64encode(buffer.getvalue()).decode()
                part["inlineData"] = {"mimeType": "image/jpeg", "data": data}
        return parts

    monkeypatch.setattr(replies, "_answer_parts", in_jpeg)
    ip.user_ns["animals"] = ANIMALS
    run(ip, f"--each animals --save {tmp_path / 'out'}", "{item}")
    assert sorted(os.listdir(tmp_path / "out")) == ["00.jpg", "01.jpg", "02.jpg"]
    assert Image.open(tmp_path / "out" / "02.jpg").format == "JPEG"


def test_repeated_elements_each_keep_their_own_picture(ip, sim, tmp_path):
    """Three calls for three equal elements make three pictures: each element shows, binds
    and saves its own, on re-run and after a restart, with no call."""
    ip.user_ns["cats"] = ["a cat in a hat"] * 3
    run(ip, f"--each cats -o v --save {tmp_path / 'first'}", "{item}")
    assert len(posts(sim)) == 3
    pictures = [ip.user_ns["v"][k].image.tobytes() for k in range(3)]
    assert len(set(pictures)) == 3, "the elements show one picture"
    saved = [Image.open(tmp_path / "first" / f"0{k}.png").tobytes() for k in range(3)]
    assert saved == pictures
    run(ip, "--each cats -o v", "{item}")
    assert len(posts(sim)) == 3 and ip.user_ns["v"].cached == 3
    assert [ip.user_ns["v"][k].image.tobytes() for k in range(3)] == pictures
    restart_kernel()
    run(ip, f"--each cats -o v --save {tmp_path / 'again'}", "{item}")
    assert len(posts(sim)) == 3 and ip.user_ns["v"].cached == 3
    assert [ip.user_ns["v"][k].image.tobytes() for k in range(3)] == pictures
    again = [Image.open(tmp_path / "again" / f"0{k}.png").tobytes() for k in range(3)]
    assert again == pictures


def test_a_429_pauses_the_run_for_the_delay_the_server_gives(ip, sim, monkeypatch):
    settings().max_concurrency = 1
    times = arrivals(sim, monkeypatch)
    sim.inject(Fault.http(429, retry_after=1))
    ip.user_ns["animals"] = ANIMALS
    run(ip, "--each animals -o out", "{item}")
    out = ip.user_ns["out"]
    sent = posts(sim)
    assert len(sent) == 4 and prompt_of(sent[1]) == prompt_of(sent[0]) == "a fox"
    assert 1.0 <= times[1] - times[0] < 3.0
    assert out.failed == [] and len(out.done) == 3


def test_the_pause_honours_retryinfo_to_the_millisecond(ip, sim, monkeypatch):
    """The simulator's limit names the exact wait in RetryInfo and rounds Retry-After up to
    whole seconds: the run waits the exact delay, and is let through at once."""
    settings().max_concurrency = 1
    times = arrivals(sim, monkeypatch)
    sim.rate_limit = (2, 1.2)
    ip.user_ns["animals"] = ANIMALS
    run(ip, "--each animals -o out", "{item}")
    assert sim.rate_limited == 1 and len(ip.user_ns["out"].done) == 3
    assert times[3] - times[0] >= 1.2  # admitted: the window had moved on
    assert times[3] - times[2] < 1.95  # Retry-After alone (2 s) would wait at least 2 s


@pytest.mark.parametrize(
    ("rpm", "fix"),
    [
        (0, "set %config Banana.rpm (calls a minute; 0, the default, sets no limit)."),
        (600, "lower %config Banana.rpm (now 600)."),
    ],
)
def test_an_element_always_rate_limited_fails_with_its_reason_and_the_others_succeed(
    ip, sim, rpm, fix
):
    settings().max_concurrency = 1
    settings().retries = 2
    settings().rpm = rpm  # unset (0), the fix is to set it, not to lower it
    sim.inject(Fault.http(429, retry_after=0.05), times=3)
    ip.user_ns["animals"] = ANIMALS
    run(ip, "--each animals -o out", "{item}")
    out = ip.user_ns["out"]
    assert len(posts(sim)) == 5  # the SDK left 429 to the run: 3 for the fox, 1 each after
    assert out.failed == [
        Failure(0, "a fox", "rate limit reached (429) on all 3 attempts, each after the pause "
                f"the server asked for: re-run the cell later to ask for it, or {fix}"),
    ]  # fmt: skip
    assert out[0] is None and out[1] is not None and out[2] is not None


def test_a_refusal_is_recorded_for_its_element_and_not_asked_again(ip, sim):
    settings().max_concurrency = 1
    sim.inject(Fault.finish("IMAGE_SAFETY"))
    ip.user_ns["animals"] = ANIMALS
    captured = run(ip, "--each animals -o out", "{item}")
    out = ip.user_ns["out"]
    assert len(posts(sim)) == 3
    assert [f.index for f in out.failed] == [0] and "IMAGE_SAFETY" in out.failed[0].reason
    assert "✖ No image: the image was withheld" in captured.outputs[0].data["text/html"]


def test_server_errors_are_still_retried_by_the_sdk(ip, sim):
    settings().max_concurrency = 1
    sim.inject(Fault.http(503), times=2)
    ip.user_ns["animals"] = ANIMALS[:1]
    run(ip, "--each animals -o out", "{item}")
    assert len(posts(sim)) == 3 and len(ip.user_ns["out"].done) == 1


def interrupt_after(sim, requests: int) -> threading.Thread:
    """Interrupt the main thread once ``requests`` generateContent calls have arrived, and
    make every later call slow, so that none of them can finish first."""

    def wait_then_interrupt() -> None:
        deadline = time.monotonic() + 20
        while len(posts(sim)) < requests and time.monotonic() < deadline:
            time.sleep(0.01)
        sim.latency = 10.0
        _thread.interrupt_main()

    thread = threading.Thread(target=wait_then_interrupt, name="test-interrupter")
    thread.start()
    return thread


def test_an_interrupt_keeps_what_finished_and_a_rerun_asks_only_for_the_rest(ip, sim):
    settings().max_concurrency = 2
    sim.latency = 0.2
    ip.user_ns["animals"] = [f"animal {i}" for i in range(10)]
    interrupter = interrupt_after(sim, 3)  # the third call starts once one has finished
    captured = run(ip, "--each animals -o out", "{item}")
    interrupter.join()
    first = ip.user_ns["out"]
    done = len(first.done)
    assert first.interrupted and 1 <= done < 10 and ip.user_ns["_banana"] is first
    assert stored_rows() == done and len(first.remaining) == 10 - done
    assert "Interrupted: what finished is kept" in captured.outputs[0].data["text/plain"]

    sim.latency = 0.0
    before = len(posts(sim))
    run(ip, "--each animals -o out", "{item}")
    second = ip.user_ns["out"]
    assert len(posts(sim)) - before == 10 - done
    assert len(second.done) == 10 and second.cached == done


def test_a_rerun_and_a_restart_then_rerun_make_no_calls(ip, sim):
    ip.user_ns["animals"] = ANIMALS
    run(ip, "--each animals", "{item}")
    assert len(posts(sim)) == 3
    run(ip, "--each animals -o out", "{item}")
    assert len(posts(sim)) == 3 and ip.user_ns["out"].cached == 3
    restart_kernel()
    run(ip, "--each animals -o out", "{item}")
    assert len(posts(sim)) == 3 and ip.user_ns["out"].cached == 3
    assert ip.user_ns["out"][2].image.size == (1024, 1024)


def test_the_progress_line_is_rewritten_in_place_outside_a_notebook(ip, sim):
    ip.user_ns["animals"] = ANIMALS
    captured = run(ip, "--each animals", "{item}")
    updates = captured.stdout.rstrip("\n").split("\r")[1:]
    assert updates[0].startswith("🍌 0/3 done · ")
    assert updates[-1].startswith("🍌 3/3 done · ") and "~$" in updates[-1]
    assert captured.stdout.count("\n") == 1


@pytest.mark.parametrize(
    ("line", "cell", "said"),
    [
        ("--each animals -c", "{item}", "-c does not go with --each: each element is a picture "
         "of its own, not a chat turn."),
        ("--each aminals", "{item}", "--each aminals: aminals is not defined in the notebook. "
         "Did you mean animals?"),
        ("--each text", "{item}", "--each text: text is a str; --each takes a list, a tuple or "
         "a pandas Series."),
        ("--each nothing", "{item}", "--each nothing: nothing is empty, so there is nothing to "
         "ask for."),
        ("--each animals", "a cat", "--each animals: the cell never mentions {item}, so every "
         "element would ask the same thing: write {item} where the element goes."),
        ("--each animals", "{item} in {stlye}", "{stlye} is not defined in the notebook. "
         "Did you mean {style}?"),
        ("--each animals -s 4K", "{item}", "gemini-3.1-flash-lite-image does not take 4K "
         "images"),
        ("--each animals -m lite,pro", "{item}", "--each takes one model: run the cell once "
         "per model, or compare models on one prompt without --each."),
    ],
    ids=["chat", "unknown-name", "not-a-list", "empty", "no-item", "unknown-ref", "option",
         "models"],
)  # fmt: skip
def test_a_run_that_cannot_start_is_refused_in_one_line_before_any_call(ip, sim, line, cell, said):
    ip.user_ns.update(animals=ANIMALS, text="a fox", nothing=[], style="ink")
    with capture_output() as captured, pytest.raises(UsageError) as info:
        ip.run_cell_magic("banana", line, cell)
    assert str(info.value).startswith(said) and "\n" not in str(info.value)
    assert posts(sim) == [] and captured.outputs == [] and captured.stdout == ""


def test_a_whole_run_as_a_reference_is_refused_and_each_result_can_be_each_d(ip, sim):
    ip.user_ns["animals"] = ANIMALS[:2]
    run(ip, "--each animals -o out", "{item}")
    sent = len(posts(sim))
    with pytest.raises(UsageError, match=r"\{out\} holds the 2 results of an --each run"):
        run(ip, "", "make it night {out}")
    assert len(posts(sim)) == sent
    run(ip, "--each out -o night", "make {item} a night scene")  # its results, each edited
    assert len(posts(sim)) == sent + 2 and len(ip.user_ns["night"].images) == 2


def test_each_over_a_run_whose_first_failed_names_each_result_by_its_place(ip, sim):
    settings().max_concurrency = 1
    sim.inject(Fault.finish("IMAGE_SAFETY"))
    ip.user_ns["animals"] = ANIMALS
    run(ip, "--each animals -o base", "{item}")
    base = ip.user_ns["base"]
    assert [f.index for f in base.failed] == [0]
    captured = run(ip, "--each base -o night", "make {item} a night scene")
    night = ip.user_ns["night"]
    assert night.labels == ["base[1]", "base[2]"]
    assert "#0 base[1]" in captured.outputs[0].data["text/plain"]
    first = posts(sim)[-2].body["contents"][-1]["parts"]  # one call at a time: element 0
    image = next(p.get("inlineData") or p["inline_data"] for p in first if "text" not in p)
    assert base64.urlsafe_b64decode(image["data"] + "==") == base[1].outputs[0].data


def test_the_runs_notes_are_shown_once_each(ip, sim):
    """A shut-down model's replacement, a default the model lacks, a downscaled reference:
    what a single cell says under its picture, said once for the whole run."""
    ip.user_ns["animals"] = ANIMALS
    ip.user_ns["sprite"] = np.random.default_rng(3).integers(0, 256, (1800, 1800, 4), np.uint8)
    settings().thinking = "high"  # Pro's thinking level is not settable
    captured = run(ip, "--each animals -m gemini-3-pro-image-preview -i sprite", "{item}")
    said = captured.outputs[0].data["text/plain"]
    html = captured.outputs[0].data["text/html"]
    replaced = "gemini-3-pro-image-preview was shut down on"
    for note in (replaced, "is not available on", "downscaled to"):
        assert said.count(note) == 1 and html.count(note) == 1, note
    assert {r.model for r in posts(sim)} == {"gemini-3-pro-image"}
    again = run(ip, "--each animals -m gemini-3-pro-image-preview -i sprite", "{item}")
    assert again.outputs[0].data["text/plain"].count(replaced) == 1


def test_an_error_every_element_would_meet_stops_the_run_in_one_line(ip, sim):
    settings().max_concurrency = 1
    sim.inject(Fault.http(401))
    ip.user_ns["animals"] = ANIMALS
    with pytest.raises(UsageError) as info:
        run(ip, "--each animals -o out", "{item}")
    assert str(info.value).startswith("The API refused the key (401 UNAUTHENTICATED")
    assert len(posts(sim)) == 1 and ip.user_ns["out"].remaining[0].label == "a fox"


def test_rpm_is_a_sliding_minute_and_a_pause_holds_every_start():
    now = [100.0]
    pacer = Pacer(2, 8, clock=lambda: now[0])
    assert pacer.wait(1) == 0
    pacer.started(1)
    now[0] += 10
    pacer.started(1)
    assert pacer.wait(1) == 50  # the first start leaves the minute at 160
    now[0] = 160
    assert pacer.wait(1) == 0
    pacer.pause(7.5)
    assert pacer.wait(1) == 7.5 and Pacer(0, 8, clock=lambda: now[0]).wait(100) == 0


def test_each_429_halves_the_calls_in_flight_and_admitted_calls_widen_them_again():
    pacer = Pacer(0, 8)
    assert pacer.room == 8
    pacer.pause(0)
    assert pacer.room == 4
    for _ in range(3):  # a burst of refusals brings it down to one call, not below
        pacer.pause(0)
    assert pacer.room == 1
    for _ in range(3):
        pacer.admitted()
    assert pacer.room == 4
    for _ in range(10):
        pacer.admitted()
    assert pacer.room == 8


def test_rpm_refuses_a_negative_rate(ip):
    with pytest.raises(Exception, match="rpm must be 0"):
        settings().rpm = -1


def test_the_retry_delay_prefers_retryinfo_over_the_rounded_header():
    body = {"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED",
                      "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                   "retryDelay": "8.500s"}]}}  # fmt: skip

    class Response:
        headers: ClassVar = {"retry-after": "9"}

    error = engine.translate(
        sdk_errors.ClientError(429, body, Response()), model_id="m", endpoint="x", timeout=1,
        attempts=1,
    )  # fmt: skip
    assert error.retry_after == 8.5 and "wait 8.5 s (the server asked)" in str(error)


def kernel_messages(client, msg_id: str, timeout: float = 60) -> list[dict]:
    """Every iopub message the cell ``msg_id`` caused, until the kernel is idle again."""
    seen = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            client.get_shell_msg(timeout=timeout)
            return seen


def printed(client, code: str) -> str:
    messages = kernel_messages(client, client.execute(code))
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")


def settled(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_in_a_kernel_a_progress_bar_and_the_interrupt_button_keep_what_finished(sim, tmp_path):
    env = {**os.environ, "GEMINI_API_KEY": TEST_KEY, "IPYTHONDIR": str(tmp_path / "ipython")}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    cell = "%%banana --each animals -o out\n{item}"
    try:
        printed(client, f"%load_ext nb_banana\n%config Banana.base_url = '{sim.url}'\n"
                        f"%config Banana.store = '{tmp_path / 'store'}'\n"
                        "%config Banana.max_concurrency = 2\n"
                        "animals = [f'animal {i}' for i in range(10)]")  # fmt: skip
        sim.latency = 0.2
        msg_id = client.execute(cell)
        assert settled(lambda: len(posts(sim)) >= 3, timeout=30)
        sim.latency = 10.0
        manager.interrupt_kernel()
        messages = kernel_messages(client, msg_id)
        opened = [m["content"]["data"]["state"] for m in messages if m["msg_type"] == "comm_open"]
        bar = next(state for state in opened if state["_model_name"] == "IntProgressModel")
        assert bar["max"] == 10
        shown = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
        assert "🍌" in shown[-2]["content"]["data"]["text/plain"]  # the bar, become its line
        assert "Interrupted" in shown[-1]["content"]["data"]["text/plain"]  # the sheet
        done = int(printed(client, "print(len(out.done), out.interrupted)").split()[0])
        assert 1 <= done < 10

        sim.latency = 0.0
        before = len(posts(sim))
        kernel_messages(client, client.execute(cell))
        assert len(posts(sim)) - before == 10 - done
        assert printed(client, "print(len(out.done), out.cached)").split() == ["10", str(done)]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_results_are_read_back_from_the_store_not_held(ip, sim):
    ip.user_ns["animals"] = ANIMALS
    run(ip, "--each animals -o out", "{item}")
    out = ip.user_ns["out"]
    assert all(done.kept is None for done in out.done.values())
    assert all(len(thumb) < 20_000 for done in out.done.values() for thumb in done.thumbs)
    assert isinstance(out[0].image, Image.Image) and Path(settings().store).is_dir()


def test_a_lone_surrogate_in_an_element_is_cleaned_as_in_a_single_cell(sim, tmp_path):
    """Half an emoji in an element: in a real kernel the contact sheet is sent as JSON, which
    a lone surrogate cannot be; the element is shown with U+FFFD, run and re-run alike."""
    with kernels(sim.url, tmp_path / "store", tmp_path) as (kernel,):
        assert not kernel.run('things = ["a cat \\ud83d", "a dog"]').error
        for _ in range(2):
            ran = kernel.run("%%banana --each things -o out\n{item}", "each")
            assert not ran.error and "#0 a cat \ufffd" in ran.shown
        assert len(posts(sim)) == 2
        assert sorted(prompt_of(r).strip() for r in posts(sim)) == ["a cat \ufffd", "a dog"]
        assert kernel.run("print(out.cached)").stdout.strip() == "2"


def test_the_contact_sheet_is_made_from_the_pixels_the_previews_decoded(ip, sim, monkeypatch):
    """Decoding each answer again for its thumbnail cost the kernel ~12 ms a picture; made
    from the preview's pixels, the thumbnail is the same picture at the same size."""
    from nb_banana.answer import each_result

    def decoded_again(data: bytes, px: int = 192) -> bytes:
        raise AssertionError("a thumbnail decoded a picture the preview had decoded")

    monkeypatch.setattr(each_result, "thumbnail", decoded_again)
    settings().preview_px = 256  # every answer gets a preview of its own, made by decoding it
    ip.user_ns["animals"] = ANIMALS[:3]
    run(ip, "--each animals -o out", "{item}")
    out = ip.user_ns["out"]
    assert len(out.done) == 3
    for index, done in out.done.items():
        [thumb] = [Image.open(io.BytesIO(data)).convert("RGB") for data in done.thumbs]
        picture = out[index].image.convert("RGB")
        assert max(thumb.size) == each_result.THUMB_PX
        assert abs(thumb.width / thumb.height - picture.width / picture.height) < 0.02
        expected = picture.resize(thumb.size, Image.Resampling.BICUBIC)
        difference = np.abs(np.asarray(thumb, float) - np.asarray(expected, float)).mean()
        assert difference < 6, difference
