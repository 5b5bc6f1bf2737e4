"""Notebook habits on chats, through cells that carry Jupyter's cell ids: looking back, Run
All twice, restart then one cell, follow-ups that keep their shape, names that cannot collide,
and the panel's Stop, counted in requests on the wire."""

from __future__ import annotations

import threading

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from nb_banana.context import session
from nb_banana.simulator import Fault
from nb_banana.turns import runner as turns

from .conftest import restart_kernel


def cell(ip, cell_id: str, line: str, text: str):
    """Run ``%%banana line`` + text as the notebook cell ``cell_id`` (as Jupyter does)."""
    with capture_output() as captured:
        outcome = ip.run_cell(f"%%banana {line}\n{text}", cell_id=cell_id)
    if outcome.error_in_exec is not None:
        raise outcome.error_in_exec
    return captured


def posts(sim) -> int:
    return sum(r.method == "POST" for r in sim.requests)


def thread(name: str) -> list[str]:
    return [t.prompt.strip() for t in session().chats.get(name).turns]


HOUSE = [
    ("c1", "", "a house"),
    ("c2", "-c", "winter"),
    ("c3", "-c", "a snowman"),
    ("c4", "-c", "night"),
]


def run_all(ip, cells=HOUSE):
    for cell_id, line, text in cells:
        cell(ip, cell_id, line, text)


def test_re_running_an_unchanged_cell_to_look_back_changes_nothing(ip, sim):
    run_all(ip)
    calls = posts(sim)
    cell(ip, "c1", "", "a house")
    assert posts(sim) == calls and ip.user_ns["_banana"].cached
    assert ip.user_ns["_banana"].turn == 1
    cell(ip, "c5", "-c", "add a dog")
    assert thread("chat1") == ["a house", "winter", "a snowman", "night", "add a dog"]
    assert list(session().chats.chats) == ["chat1"]


def test_run_all_twice_in_one_kernel_makes_no_call_and_no_turn(ip, sim):
    readme = [
        ("r1", "-m pro -a 16:9 -n 2 -c house", "a cut-away house"),
        ("r2", "-c house --pick 2", "now make it winter"),
    ]
    run_all(ip, readme)
    calls = posts(sim)
    assert calls == 3
    run_all(ip, readme)
    assert posts(sim) == calls
    assert thread("house") == ["a cut-away house", "now make it winter"]


def test_run_all_after_a_restart_makes_no_call(ip, sim):
    run_all(ip)
    calls = posts(sim)
    restart_kernel()
    run_all(ip)
    assert posts(sim) == calls
    assert list(session().chats.chats) == ["chat1"] and len(thread("chat1")) == 4


def test_after_a_restart_re_running_only_the_last_cell_makes_no_call(ip, sim):
    run_all(ip)
    calls = posts(sim)
    restart_kernel()
    cell(ip, "c4", "-c", "night")
    assert posts(sim) == calls and ip.user_ns["_banana"].turn == 4
    assert len(thread("chat1")) == 4


def test_cells_re_run_in_any_order_make_no_call(ip, sim):
    run_all(ip)
    calls = posts(sim)
    restart_kernel()
    run_all(ip, [HOUSE[2], HOUSE[0], HOUSE[3]])
    assert posts(sim) == calls and len(thread("chat1")) == 4


def test_editing_a_middle_cell_re_asks_it_and_keeps_the_old_thread(ip, sim):
    run_all(ip)
    calls = posts(sim)
    captured = cell(ip, "c2", "-c", "summer")
    assert posts(sim) == calls + 1
    assert thread("chat1") == ["a house", "summer"]
    assert thread("chat1.2") == ["a house", "winter", "a snowman", "night"]
    assert "kept as 'chat1.2'" in str(captured.outputs[0].data)


def test_a_follow_up_keeps_the_chats_model_aspect_and_size(ip, sim):
    cell(ip, "f1", "-m pro -a 16:9 -s 2K -c house", "a house")
    cell(ip, "f2", "-c house", "make it winter")
    config = sim.requests[-1].body["generationConfig"]["imageConfig"]
    assert config == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert sim.requests[-1].model == "gemini-3-pro-image"
    cell(ip, "f3", "-c house -a 1:1", "square now")
    assert sim.requests[-1].body["generationConfig"]["imageConfig"]["aspectRatio"] == "1:1"
    with capture_output() as captured:
        ip.run_line_magic("banana", "chat house")
    assert "16:9 · 2752×1536 · 2K" in captured.outputs[0].data["text/plain"]


def test_two_new_chats_at_once_get_two_names(ip, sim):
    sim.latency = 0.3
    made: list = []
    other = threading.Thread(
        target=lambda: made.append(turns.run(turns.Ask(("a pear",), new_chat=True)))
    )
    other.start()
    cell(ip, "n1", "", "an apple")
    other.join(10)
    names = {made[0].chat, ip.user_ns["_banana"].chat}
    assert names == {"chat1", "chat2"}
    assert set(session().chats.chats) == {"chat1", "chat2"}


def test_branch_names_keep_every_dot(ip, sim):
    cell(ip, "b1", "-c v1.5", "a logo")
    cell(ip, "b2", "-c v1.5", "bolder")
    cell(ip, "b3", "-c v1.5@1", "thinner")
    assert "v1.5.2" in session().chats.chats
    assert thread("v1.5.2") == ["a logo", "thinner"]


def test_a_failed_new_chat_frees_its_name(ip, sim):
    sim.inject(Fault.http(400))
    with pytest.raises(UsageError, match="400"):
        cell(ip, "x1", "", "a door")
    cell(ip, "x2", "", "a window")
    assert ip.user_ns["_banana"].chat == "chat1"


def test_the_panel_sends_references_as_image_parts(ip, sim):
    from nb_banana.faces.panel import Panel

    ip.user_ns["house"] = Image.new("RGB", (40, 30), (200, 10, 10))
    panel = Panel(ip.user_ns)
    panel.form.prompt.value = "a dog in front of {house}"
    panel.generate_button.click()
    panel.wait(20)
    parts = [r for r in sim.requests if r.method == "POST"][-1].body["contents"][-1]["parts"]
    assert parts[0] == {"text": "a dog in front of "}
    assert (parts[1].get("inlineData") or parts[1]["inline_data"])["mime_type"] == "image/png"
    panel.close()


def test_the_panel_continues_its_own_thread_not_the_notebooks_current(ip, sim):
    from nb_banana.faces.panel import Panel

    panel = Panel(ip.user_ns)
    panel.form.prompt.value = "a kite"
    panel.generate_button.click()
    panel.wait(20)
    cell(ip, "p1", "", "a boat")  # the notebook's current chat is now the boat
    panel.form.prompt.value = "make it red"
    panel.continue_button.click()
    panel.wait(20)
    assert thread("chat1") == ["a kite", "make it red"] and thread("chat2") == ["a boat"]
    panel.close()


def test_stop_after_the_reply_came_keeps_and_reports_the_result(ip, sim):
    from nb_banana.faces.panel import Panel

    panel = Panel(ip.user_ns)
    planned = turns.plan(turns.Ask(("a kite",), new_chat=True))
    future = turns.send(planned)
    outcomes = future.result(10)
    assert not future.cancel()  # what Stop does: too late, the call completed
    result = turns.commit(planned, outcomes)
    assert thread(result.chat) == ["a kite"]
    panel.close()


def test_stop_before_the_reply_changes_nothing(ip, sim):
    from nb_banana.faces.panel import Panel

    sim.latency = 2.0
    panel = Panel(ip.user_ns)
    panel.form.prompt.value = "a kite"
    panel.generate_button.click()
    for _ in range(100):
        if any(r.method == "POST" for r in sim.requests):
            break
        threading.Event().wait(0.02)
    panel.stop()
    panel.wait(10)
    assert "Cancelled" in panel.message
    assert session().chats.chats == {}
    panel.close()


def test_a_refused_option_frees_the_new_chats_name(ip, sim):
    with pytest.raises(UsageError, match="does not take 4K"):
        cell(ip, "y1", "-s 4K", "a door")
    cell(ip, "y2", "", "a window")
    assert ip.user_ns["_banana"].chat == "chat1"


def test_cells_with_new_ids_re_run_their_turns_by_request(ip, sim):
    """A jupytext round trip (or a copied notebook) gives every cell a new id: the three
    ``-c house`` cells are the same turns, answered from the store, not three new ones."""
    cells = [("-c house", "a house"), ("-c house", "make it red"), ("-c house", "add snow")]
    for number, (line, text) in enumerate(cells):
        cell(ip, f"old-{number}", line, text)
    assert posts(sim) == 3
    for number, (line, text) in enumerate(cells):
        cell(ip, f"new-{number}", line, text)
        assert ip.user_ns["_banana"].cached and ip.user_ns["_banana"].turn == number + 1
    assert posts(sim) == 3 and thread("house") == ["a house", "make it red", "add snow"]
    restart_kernel()  # and in a new kernel, with yet other ids
    for number, (line, text) in enumerate(cells):
        cell(ip, f"copy-{number}", line, text)
    assert posts(sim) == 3 and thread("house") == ["a house", "make it red", "add snow"]
    cell(ip, "new-3", "-c house", "add a dog")  # a cell that is new in fact is a new turn
    assert posts(sim) == 4 and thread("house")[-1] == "add a dog"


def test_a_new_cell_with_an_unknown_id_after_plain_cells_keeps_one_chat(ip, sim):
    run_all(ip)
    calls = posts(sim)
    run_all(ip, [(f"x{cell_id}", line, text) for cell_id, line, text in HOUSE])
    assert posts(sim) == calls and list(session().chats.chats) == ["chat1"]
    assert thread("chat1") == ["a house", "winter", "a snowman", "night"]


def test_cells_run_without_ids_then_with_ids_make_no_call(ip, sim):
    """A headless run (nbclient sends no cell ids), then the same notebook in a front-end
    that sends them: the cells are the turns the headless run made."""
    named = [("-c house", "a house"), ("-c house", "make it red"), ("", "a boat"), ("-c", "sails")]
    for line, text in named:
        with capture_output():
            ip.run_cell(f"%%banana {line}\n{text}")
    assert posts(sim) == 4
    for number, (line, text) in enumerate(named):
        cell(ip, f"id-{number}", line, text)
    assert posts(sim) == 4
    assert list(session().chats.chats) == ["house", "chat2"]
    assert thread("house") == ["a house", "make it red"] and thread("chat2") == ["a boat", "sails"]
