"""Shared fixtures: one simulator for the session, clean settings and chats per test."""

from __future__ import annotations

import os

import hypothesis
import pytest
from IPython.testing.globalipapp import start_ipython

from nb_banana.context import context, restart, settings
from nb_banana.gemini import secrets
from nb_banana.memory.session import Session
from nb_banana.simulator import Simulator
from nb_banana.turns import offline

TEST_KEY = "test-key-0123456789abcdef"
# Real thought signatures are about 1.1 MB of base64 each (Pro), and a chat sends every
# earlier one back; most tests prove other things, so they get small ones. Tests that are
# about size run at the real size (``sim.signature_bytes = None``: test_real_shapes.py).
TEST_SIGNATURE_BYTES = 1024

# `make test` (and so CI) draws the same examples every run, so its verdict depends only on
# the code; `make fuzz` draws fresh ones to look for new failures.
hypothesis.settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis.settings.register_profile("fuzz", derandomize=False)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def simulator_server():
    with Simulator(signature_bytes=TEST_SIGNATURE_BYTES) as sim:
        yield sim


@pytest.fixture
def sim(simulator_server, monkeypatch, tmp_path):
    """The simulator, emptied, with nb_banana pointed at it and fast retries."""
    simulator_server.reset()
    simulator_server.latency = 0.0
    simulator_server.model_latency = {}
    simulator_server.stream_seconds = 0.0
    simulator_server.signature_bytes = TEST_SIGNATURE_BYTES
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    s = settings()
    saved = {name: getattr(s, name) for name in s.trait_names(config=True)}
    s.base_url = simulator_server.url
    s.store = str(tmp_path / "store")
    s.retry_delay = 0.01
    s.timeout = 10.0
    context().session = Session()
    yield simulator_server
    for name, value in saved.items():
        setattr(settings(), name, value)
    offline.go_online()
    secrets.set_typed_key(None)
    context().session = Session()


@pytest.fixture(scope="session")
def shell():
    ip = start_ipython()
    ip.run_line_magic("load_ext", "nb_banana")
    return ip


@pytest.fixture
def ip(shell, sim):
    """An IPython shell with nb_banana loaded, talking to the simulator."""
    for name in [k for k in shell.user_ns if k.startswith("_banana")]:
        del shell.user_ns[name]
    return shell


def restart_kernel() -> None:
    """What a kernel restart does: engine, store handles, settings and chats all start anew;
    the notebook's first cell sets the endpoint and the store again (%config)."""
    old = settings()
    kept = {name: getattr(old, name) for name in ("base_url", "store", "retry_delay", "timeout")}
    if old.parent is not None:  # %config of earlier tests; a new kernel has none of it
        old.parent.config.pop("Banana", None)
    new = restart().settings
    for name, value in kept.items():
        setattr(new, name, value)
