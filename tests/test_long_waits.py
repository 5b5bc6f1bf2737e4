"""Long waits are expected: a Nano Banana Pro reply took 26 s on Google's side (issue 19).

A call of 30–60 s must neither time out early (the default timeout is 180 s), nor leave the
user looking at a frozen cell, nor stop answering its interrupt. These tests hold the
simulator's answer for longer than 30 s, so they are slow on purpose.
"""

from __future__ import annotations

import re
import time

from nb_banana.context import settings
from nb_banana.faces.panel import Panel
from nb_banana.simulator import Fault

from .test_interrupts import CANCELLED, banana_kernel, collect, execute, settled

LONG = 34.0  # seconds: past 30, where a client's default read timeout would often fall


def test_a_long_call_completes_with_the_status_line_counting_and_the_next_is_interruptible(
    sim, tmp_path
):
    with banana_kernel(sim, tmp_path) as (manager, client):
        sim.inject(Fault.slow(LONG))
        started = time.monotonic()
        msg_id = client.execute("%%banana -m pro -c long\na slow cathedral")
        seconds, final = [], None
        while True:
            msg = client.get_iopub_msg(timeout=LONG + 30)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            data = msg["content"].get("data", {})
            if msg["msg_type"] == "update_display_data" and "Asking" in data.get("text/plain", ""):
                seconds.append(int(re.search(r"· (\d+) s", data["text/plain"]).group(1)))
            elif msg["msg_type"] == "update_display_data" and "nb-banana-result" in str(data):
                final = data
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert client.get_shell_msg(timeout=10)["content"]["status"] == "ok"
        assert time.monotonic() - started >= LONG
        assert seconds == sorted(seconds) and seconds[-1] >= LONG - 2  # it kept counting
        assert final is not None and "gemini-3-pro-image" in final["text/plain"]

        sim.inject(Fault.slow(LONG + 20))
        requests = len(sim.requests)
        msg_id = client.execute("%%banana -c long\nnow at night")
        assert settled(lambda: len(sim.requests) > requests, timeout=10)
        time.sleep(LONG - 4)  # deep into a long call
        interrupted = time.monotonic()
        manager.interrupt_kernel()
        status, shown = collect(client, msg_id)
        assert time.monotonic() - interrupted < 1.0
        assert status == "error" and CANCELLED in shown
        turns = "from nb_banana.context import session\n"
        turns += "print([t.prompt.strip() for t in session().chats.get('long').turns])"
        assert execute(client, turns)[1].strip() == "['a slow cathedral']"


def test_the_panel_stays_busy_and_counting_through_a_long_call(ip, sim):
    settings().timeout = 180.0  # the default (the tests' fixture shortens it)
    panel = Panel(namespace=ip.user_ns)
    try:
        sim.inject(Fault.slow(LONG))
        panel.form.prompt.value = "a slow cathedral"
        panel.generate_button.click()
        time.sleep(LONG - 4)
        assert panel.stop_button.disabled is False and panel.generate_button.disabled
        assert re.search(r"· (2\d|3\d) s", panel.status.value)  # still counting, not stuck
        panel.wait(30)
        assert not panel.generate_button.disabled
        assert len(panel.gallery.results) == 1
        assert [r.path.endswith(":generateContent") for r in sim.requests].count(True) == 1
    finally:
        panel.close()
        panel.wait(10)
