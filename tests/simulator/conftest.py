"""The simulator on its own, through the SDK: a simulator per module, emptied per test, and
one SDK client per module that does not retry, so every answer (a 429, a 503) reaches the
test as the server sent it. Overrides the package's ``sim``, which points nb_banana at a
shared simulator. Signatures are small here too (``TEST_SIGNATURE_BYTES``); the tests of
their real size set ``sim.signature_bytes = None``."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import types

from nb_banana.simulator import Simulator

from ..conftest import TEST_SIGNATURE_BYTES

KEY = "test-key"


@pytest.fixture(scope="module")
def server():
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def sim(server):
    """The module's simulator, emptied, answering at once with small signatures."""
    server.reset()
    _defaults(server)
    yield server
    server.reset()
    _defaults(server)


def _defaults(server: Simulator) -> None:
    server.latency = 0.0
    server.model_latency = {}
    server.signature_bytes = TEST_SIGNATURE_BYTES


def sdk_client(sim: Simulator, api_version: str | None = None) -> genai.Client:
    return genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(
            base_url=sim.url,
            api_version=api_version,
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )


@pytest.fixture(scope="module")
def client(server):
    """One SDK client for the module: a dropped client closes its connection pool."""
    return sdk_client(server)
