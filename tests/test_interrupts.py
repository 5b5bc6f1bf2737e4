"""Interrupts: Stop (or Ctrl-C) ends a call within a second and leaves nothing behind.

The simulator runs in another process here, so every thread left in this one would be
nb_banana's; a slow fault holds the call until the interrupt comes. The last test sends a
real kernel interrupt (SIGINT through jupyter_client) to a real IPython kernel.
"""

from __future__ import annotations

import _thread
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from IPython.core.error import UsageError
from jupyter_client.manager import start_new_kernel

from nb_banana.context import engine as kernel_engine
from nb_banana.context import session
from nb_banana.gemini import engine
from nb_banana.memory.chat import Chat
from nb_banana.simulator import Fault

from .cells import run
from .conftest import TEST_KEY

CANCELLED = "Cancelled: the call was stopped and nothing was changed."


class RemoteSimulator:
    """``python -m nb_banana.simulator`` in a child process, driven by its control surface."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nb_banana.simulator"], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[-1]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def inject(self, times: int = 1, **fault: Any) -> None:
        self._call("POST", "/_simulator/faults", {**fault, "times": times})

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_simulator/requests")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteSimulator]:
    simulator = RemoteSimulator()
    yield simulator
    simulator.stop()


@pytest.fixture
def ip_remote(ip, remote):
    """The shell, pointed at the simulator in the other process."""
    ip.run_line_magic("config", f'Banana.base_url = "{remote.url}"')
    remote._call("DELETE", "/_simulator/faults")
    return ip


def interrupt_once(arrived: Any, expected: int) -> tuple[threading.Thread, dict[str, float]]:
    """Interrupt the main thread, as the kernel's Stop button does, once ``expected``
    requests have reached the simulator (so the call is surely waiting on them)."""
    sent: dict[str, float] = {}

    def wait_then_interrupt() -> None:
        deadline = time.monotonic() + 10
        while len(arrived()) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        sent["at"] = time.monotonic()
        _thread.interrupt_main()

    thread = threading.Thread(target=wait_then_interrupt, name="test-interrupter")
    thread.start()
    return thread, sent


def tasks_on_the_loop() -> list[asyncio.Task]:
    async def others() -> list[asyncio.Task]:
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    return asyncio.run_coroutine_threadsafe(others(), kernel_engine().loop()).result(5)


def settled(check, timeout: float = 1.0) -> bool:
    """Whether ``check()`` becomes true within ``timeout`` (cancellation takes a loop turn)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("count", [1, 4], ids=["single", "n4"])
def test_interrupt_stops_the_call_within_a_second_and_leaves_nothing(ip_remote, remote, count):
    ip = ip_remote
    run(ip, "-m pro -c house", "a house")  # warm up: the loop, client and pools exist now
    turns = [t.to_json() for t in session().chats.get("house").turns]
    threads = set(threading.enumerate())
    already = len(remote.requests())
    remote.inject(kind="slow", seconds=8, times=count)

    interrupter, sent = interrupt_once(remote.requests, already + count)
    with pytest.raises(UsageError) as info:
        run(ip, f"-c house -n {count}", "make it red")
    stopped = time.monotonic()
    interrupter.join()

    assert str(info.value) == CANCELLED
    assert stopped - sent["at"] < 1.0
    assert settled(lambda: tasks_on_the_loop() == [])
    assert settled(lambda: set(threading.enumerate()) <= threads)
    assert [t.to_json() for t in session().chats.get("house").turns] == turns
    assert not ip.user_ns["_banana"].request.text.startswith("make it red")
    run(ip, "-c house", "make it green")
    sent = remote.requests()[-1]["body"]["contents"]
    assert [c["parts"][0].get("text") for c in sent if c["role"] == "user"] == [
        "a house",
        "make it green",
    ]


def test_interrupt_while_the_turn_is_recorded_keeps_the_result(ip, sim, monkeypatch):
    """A Stop that comes too late to stop anything must not claim that nothing changed."""
    committing = threading.Event()
    add_turn = Chat.add_turn

    def slow_add_turn(self, *args, **kwargs):  # a slow disk while the turn is written
        committing.set()
        time.sleep(0.3)
        return add_turn(self, *args, **kwargs)

    real_wait = engine.Engine.wait

    def wait_and_interrupt_then(self, future, on_tick=None, tick=0.5):
        def tick_(seconds: float) -> None:
            if committing.is_set():
                raise KeyboardInterrupt

        return real_wait(self, future, tick_, tick=0.02)

    monkeypatch.setattr(Chat, "add_turn", slow_add_turn)
    monkeypatch.setattr(engine.Engine, "wait", wait_and_interrupt_then)
    run(ip, "-c late", "a late cat")
    assert committing.is_set()
    assert ip.user_ns["_banana"].request.text == "a late cat"
    assert [t.prompt for t in session().chats.get("late").turns] == ["a late cat"]


def execute(client, code: str, timeout: float = 30) -> tuple[str, str]:
    """Run ``code`` in the kernel: the reply's status and everything the cell printed."""
    msg_id = client.execute(code)
    return collect(client, msg_id, timeout)


def collect(client, msg_id: str, timeout: float = 30) -> tuple[str, str]:
    shown: list[str] = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        content = msg["content"]
        if msg["msg_type"] == "stream":
            shown.append(content["text"])
        elif msg["msg_type"] == "error":
            shown.append("\n".join(content["traceback"]))
        elif msg["msg_type"] == "status" and content["execution_state"] == "idle":
            break
    reply = client.get_shell_msg(timeout=timeout)
    return reply["content"]["status"], "".join(shown)


THREADS = "import threading; print(sorted(t.name for t in threading.enumerate()))"


@contextmanager
def banana_kernel(sim, tmp_path) -> Iterator[tuple[Any, Any]]:
    """A real IPython kernel with nb_banana loaded against ``sim``: (manager, client)."""
    env = {**os.environ, "GEMINI_API_KEY": TEST_KEY, "IPYTHONDIR": str(tmp_path / "ipython")}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        setup = (
            f"%load_ext nb_banana\n%config Banana.base_url = '{sim.url}'\n"
            f"%config Banana.store = '{tmp_path / 'store'}'"
        )
        assert execute(client, setup)[0] == "ok"
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_kernel_interrupt_stops_the_cell_and_the_next_cell_works(sim, tmp_path):
    with banana_kernel(sim, tmp_path) as (manager, client):
        assert execute(client, "%%banana -m pro -c house\na house")[0] == "ok"
        threads_before = execute(client, THREADS)[1]

        sim.inject(Fault.slow(8))
        requests = len(sim.requests)
        msg_id = client.execute("%%banana -c house\nmake it red")
        assert settled(lambda: len(sim.requests) > requests, timeout=10)
        interrupted = time.monotonic()
        manager.interrupt_kernel()
        status, shown = collect(client, msg_id)
        assert time.monotonic() - interrupted < 1.0
        assert status == "error" and f"UsageError: {CANCELLED}" in shown

        assert execute(client, THREADS)[1] == threads_before
        turns = "from nb_banana.context import session\n"
        turns += "print([t.prompt.strip() for t in session().chats.get('house').turns])"
        assert execute(client, turns)[1].strip() == "['a house']"
        assert execute(client, "%%banana -c house\nmake it green")[0] == "ok"
        assert execute(client, turns)[1].strip() == "['a house', 'make it green']"
