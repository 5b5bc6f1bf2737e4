"""Chats that last: named threads, undo, branches, pick, restarts, and fidelity on the wire."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nb_banana.context import session, settings
from nb_banana.simulator import Fault

from .cells import run
from .conftest import TEST_KEY, restart_kernel


def magic(ip, line: str) -> str:
    with capture_output() as captured:
        ip.run_line_magic("banana", line)
    return captured.stdout + "".join(o.data.get("text/plain", "") for o in captured.outputs)


def sent_contents(sim) -> list[dict]:
    return sim.requests[-1].body["contents"]


def texts(content: dict) -> str:
    return "".join(p.get("text", "") for p in content["parts"])


def signature(part: dict) -> bytes | None:
    value = part.get("thoughtSignature") or part.get("thought_signature")
    return base64.urlsafe_b64decode(value) if value else None


def image_data(part: dict) -> bytes | None:
    blob = part.get("inlineData") or part.get("inline_data")
    return base64.urlsafe_b64decode(blob["data"]) if blob else None


def test_every_turn_sends_all_model_parts_back_byte_for_byte(ip, sim):
    run(ip, "-m pro -c house", "a house")
    replies = [ip.user_ns["_banana"].replies[0].content]
    for prompt in ("add a tree", "make it winter", "add a fox"):
        run(ip, "-c house", prompt)
        sent = sent_contents(sim)
        model_turns = [c for c in sent if c["role"] == "model"]
        assert len(model_turns) == len(replies)
        for sent_turn, received in zip(model_turns, replies, strict=True):
            for part, original in zip(sent_turn["parts"], received.parts, strict=True):
                assert signature(part) == original.thought_signature
                if original.inline_data:
                    assert image_data(part) == original.inline_data.data
        replies.append(ip.user_ns["_banana"].replies[0].content)


def test_named_threads_run_side_by_side(ip, sim):
    run(ip, "-c cabin", "a cabin")
    run(ip, "-c tower", "a tower")
    run(ip, "-c cabin", "add snow")
    assert [texts(c) for c in sent_contents(sim) if c["role"] == "user"] == ["a cabin", "add snow"]
    run(ip, "-c tower", "add a flag")
    assert [texts(c) for c in sent_contents(sim) if c["role"] == "user"] == [
        "a tower",
        "add a flag",
    ]


def test_a_named_thread_keeps_its_model(ip, sim):
    run(ip, "-m pro -c poster", "a poster")
    run(ip, "-c poster", "bigger title")
    assert sim.requests[-1].model == "gemini-3-pro-image"


def test_chats_lists_threads_with_turns_and_model(ip, sim):
    run(ip, "-c cabin", "a cabin")
    run(ip, "-c cabin", "add snow")
    run(ip, "-m pro -c tower", "a tower")
    listing = magic(ip, "chats")
    assert "cabin: 2 turns, gemini-3.1-flash-lite-image, last: add snow" in listing
    assert "tower *: 1 turns, gemini-3-pro-image" in listing


def test_timeline_shows_each_turn(ip, sim):
    run(ip, "-c cabin", "a cabin")
    run(ip, "-c cabin", "add snow")
    with capture_output() as captured:
        ip.run_line_magic("banana", "chat cabin")
    html = captured.outputs[0].data["text/html"]
    assert "turn 1" in html and "turn 2" in html and "add snow" in html
    assert html.count("data:image/jpeg;base64,") == 2


def test_undo_drops_the_last_turn(ip, sim):
    run(ip, "-c cabin", "a cabin")
    run(ip, "-c cabin", "add snow")
    assert "Dropped turn 2" in magic(ip, "undo cabin")
    run(ip, "-c cabin", "add a lake")
    assert [texts(c) for c in sent_contents(sim) if c["role"] == "user"] == [
        "a cabin",
        "add a lake",
    ]


def test_branch_keeps_turns_up_to_k_and_leaves_the_original(ip, sim):
    run(ip, "-c cabin", "a cabin")
    run(ip, "-c cabin", "add snow")
    run(ip, "-c cabin", "add a bear")
    run(ip, "-c cabin@1", "make it a summer scene")
    assert [texts(c) for c in sent_contents(sim) if c["role"] == "user"] == [
        "a cabin",
        "make it a summer scene",
    ]
    chats = session().chats
    assert chats.current == "cabin.2"
    assert len(chats.get("cabin").turns) == 3
    assert len(chats.get("cabin.2").turns) == 2
    run(ip, "-c", "add flowers")
    assert len(chats.get("cabin.2").turns) == 3


def test_pick_continues_from_the_chosen_image(ip, sim):
    run(ip, "-n 3 -c logo", "a logo")
    second = ip.user_ns["_banana"].replies[1].content
    run(ip, "-c logo --pick 2", "make it blue")
    model_turn = next(c for c in sent_contents(sim) if c["role"] == "model")
    sent_images = [image_data(p) for p in model_turn["parts"] if image_data(p)]
    assert sent_images == [p.inline_data.data for p in second.parts if p.inline_data]


def test_pick_out_of_range_is_refused_and_changes_nothing(ip, sim):
    run(ip, "-n 2 -c logo", "a logo")
    with pytest.raises(UsageError, match="has 2 image"):
        run(ip, "-c logo --pick 3", "make it blue")
    assert session().chats.get("logo").turns[-1].picked == 0


def test_switching_models_in_a_thread_is_refused(ip, sim):
    run(ip, "-m pro -c poster", "a poster")
    with pytest.raises(UsageError, match="model-specific"):
        run(ip, "-m flash -c poster", "bigger")


def test_reset_forgets_chats(ip, sim):
    run(ip, "-c a", "one")
    run(ip, "-c b", "two")
    assert "Forgot a" in magic(ip, "reset a")
    assert list(session().chats.chats) == ["b"]
    magic(ip, "reset --all")
    assert session().chats.chats == {}


@pytest.mark.parametrize(
    "fault",
    [Fault.http(500), Fault.finish("IMAGE_SAFETY"), Fault.block(), Fault.slow(5)],
    ids=["server-error", "refusal", "blocked", "timeout"],
)
def test_a_fault_mid_thread_leaves_it_intact(ip, sim, fault):
    ip.run_line_magic("config", "Banana.retries = 0")
    ip.run_line_magic("config", "Banana.timeout = 0.5")
    run(ip, "-m pro -c house", "a house")
    run(ip, "-c house", "add a tree")
    before = [t.to_json() for t in session().chats.get("house").turns]
    sim.inject(fault)
    with pytest.raises(UsageError):
        run(ip, "-c house", "add a dragon")
    assert [t.to_json() for t in session().chats.get("house").turns] == before
    run(ip, "-c house", "add a fence")
    assert len(sent_contents(sim)) == 5


def test_a_restarted_kernel_resumes_the_chat(ip, sim):
    run(ip, "-m pro -c house", "a house")
    run(ip, "-c house", "add a tree")
    code = f"""
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.utils.capture import capture_output
        from nb_banana.context import settings
        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "nb_banana")
        settings().store = {settings().store!r}
        settings().base_url = {sim.url!r}
        with capture_output():
            ip.run_cell_magic("banana", "-c", "make it winter")
        print(ip.user_ns["_banana"].chat, ip.user_ns["_banana"].turn)
    """
    env = {**os.environ, "GEMINI_API_KEY": TEST_KEY}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["house", "3"]
    sent = sent_contents(sim)
    assert [texts(c) for c in sent if c["role"] == "user"] == [
        "a house",
        "add a tree",
        "make it winter",
    ]
    assert all(signature(p) for c in sent if c["role"] == "model" for p in c["parts"]
               if image_data(p))  # fmt: skip


NOTEBOOK = [
    ("-m pro -c cabin", "a cabin by a lake"),
    ("-m pro -c tower", "a lighthouse"),
    ("-c cabin", "add a red canoe"),
    ("", "a logo for a bakery"),
    ("-c", "make it green"),
    ("-c cabin@1", "in autumn instead"),
    ("-n 2 -c kite", "a kite"),
    ("-c kite --pick 2", "make it bigger"),
]


def run_notebook(ip, cells) -> list[tuple[str, int, bool]]:
    """Run the cells in order; what each cell's result says: chat, turn, cached."""
    said = []
    for line, cell in cells:
        run(ip, line, cell)
        result = ip.user_ns["_banana"]
        said.append((result.chat, result.turn, result.cached))
    return said


def threads() -> dict[str, list[str]]:
    return {name: [t.prompt for t in chat.turns] for name, chat in session().chats.chats.items()}


def test_run_all_after_a_restart_replays_every_thread_with_no_call(ip, sim):
    first = run_notebook(ip, NOTEBOOK)
    before, calls = threads(), len(sim.requests)
    restart_kernel()
    again = run_notebook(ip, NOTEBOOK)
    assert len(sim.requests) == calls  # Run All is free
    assert [(chat, turn) for chat, turn, _ in again] == [(c, t) for c, t, _ in first]
    assert all(cached for _, _, cached in again)
    assert threads() == before  # same names, same turns: no duplicate threads
    assert session().chats.current == "kite"


def test_rerunning_cells_in_the_same_kernel_keeps_their_chat(ip, sim):
    cells = [("", "a logo for a bakery"), ("-c", "make it green")]
    first = run_notebook(ip, cells)
    assert run_notebook(ip, cells) == [(c, t, True) for c, t, _ in first]
    assert list(session().chats.chats) == [first[0][0]]
    run(ip, "-c", "now in blue")  # a new cell after the re-run continues the thread
    assert threads()[first[0][0]] == ["a logo for a bakery", "make it green", "now in blue"]


def test_fresh_on_a_plain_cell_starts_a_thread_of_its_own(ip, sim):
    run(ip, "", "a logo")
    first = ip.user_ns["_banana"].chat
    run(ip, "--fresh", "a logo")
    assert ip.user_ns["_banana"].chat != first and not ip.user_ns["_banana"].notes
    assert len(threads()) == 2


def test_an_edited_cell_in_a_rerun_replaces_the_rest_and_keeps_the_old_thread(ip, sim):
    run_notebook(ip, [("-m pro -c cabin", "a cabin"), ("-c cabin", "add a canoe"),
                      ("-c cabin", "in winter")])  # fmt: skip
    restart_kernel()
    run(ip, "-m pro -c cabin", "a cabin")
    calls = len(sim.requests)
    shown = run(ip, "-c cabin", "add a kayak")  # this cell was edited
    assert len(sim.requests) == calls + 1
    assert (
        "This replaced turns 2–3 of 'cabin'; the thread as it was is kept as 'cabin.2' "
        "(%banana chat cabin.2)." in shown.outputs[0].data["text/plain"]
    )
    assert [texts(c) for c in sent_contents(sim) if c["role"] == "user"] == [
        "a cabin",
        "add a kayak",
    ]
    assert ip.user_ns["_banana"].turn == 2
    assert threads()["cabin"] == ["a cabin", "add a kayak"]
    assert threads()["cabin.2"] == ["a cabin", "add a canoe", "in winter"]
    restart_kernel()
    run_notebook(ip, [("-m pro -c cabin", "a cabin"), ("-c cabin", "add a kayak")])
    assert len(sim.requests) == calls + 1  # the edited notebook again: all from the store
    assert set(threads()) == {"cabin", "cabin.2"}  # and no copy of a copy


def test_fresh_on_a_rerun_cell_draws_that_turn_again_and_keeps_the_old_thread(ip, sim):
    run_notebook(ip, [("-m pro -c cabin", "a cabin"), ("-c cabin", "add a canoe")])
    old = session().chats.get("cabin").turns
    restart_kernel()
    run(ip, "-m pro -c cabin --fresh", "a cabin")
    assert not ip.user_ns["_banana"].cached
    assert ip.user_ns["_banana"].notes == (
        "This replaced turns 1–2 of 'cabin'; the thread as it was is kept as 'cabin.2' "
        "(%banana chat cabin.2).",
    )
    assert threads() == {"cabin": ["a cabin"], "cabin.2": ["a cabin", "add a canoe"]}
    assert session().chats.get("cabin.2").turns == old


def test_long_threads_keep_image_bytes_on_disk(ip, sim):
    run(ip, "-m pro -s 2K -c big", "a map")
    for i in range(3):
        run(ip, "-c big", f"add detail {i}")
    turns = session().chats.get("big").turns
    assert all("data" not in p.get("inline_data", {}) for t in turns for p in t.model["parts"])
