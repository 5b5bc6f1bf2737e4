"""A chat's weight at real size: megabyte signatures kept once, and the 100 MB limit (issue 19).

Every earlier turn's picture and thought signatures go back with each request, so a Pro
chat grows by about 2.3 MB a turn here (3.3 MB with Google's larger JPEGs); the API takes
at most 100 MB inline. These tests run the simulator at real signature size.
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nb_banana.context import settings
from nb_banana.turns import runner

from .conftest import restart_kernel
from .test_turns import cell


@pytest.fixture
def real_size(ip, sim):
    """Real signature sizes, in a notebook with a path (as Jupyter gives the kernel), so
    its chats are found again after a restart."""
    sim.signature_bytes = None  # the recorded size: 1,100,216 base64 characters for Pro
    ip.user_ns["__session__"] = "/home/me/heavy.ipynb"
    yield sim
    del ip.user_ns["__session__"]


def signatures_sent(request) -> list[bytes]:
    parts = [p for c in request.body["contents"] for p in c.get("parts", [])]
    found = [p.get("thoughtSignature") or p.get("thought_signature") for p in parts]
    return [base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)) for s in found if s]


def test_megabyte_signatures_live_in_blobs_and_go_back_byte_for_byte_after_a_restart(ip, real_size):
    cell(ip, "w1", "-m pro -c heavy", "a lighthouse")
    cell(ip, "w2", "-c heavy", "add a storm")
    issued = signatures_sent(generations(real_size)[-1])
    assert len(issued) == 2 and all(len(s) > 800_000 for s in issued)
    database = Path(settings().store) / "store.sqlite"
    with sqlite3.connect(database) as db:
        biggest = db.execute(
            "SELECT max(length(turn)) FROM turns UNION ALL SELECT max(length(replies)) "
            "FROM generations"
        ).fetchall()
    assert all(size < 20_000 for (size,) in biggest)  # kilobytes, not megabytes, per row
    restart_kernel()
    cell(ip, "w3", "-c heavy", "add a ship")
    sent = signatures_sent(generations(real_size)[-1])
    assert sent[:2] == issued and len(sent) == 4  # the simulator also checked every byte


def test_a_chat_whose_next_request_passes_the_limit_is_refused_before_sending(
    ip, real_size, monkeypatch
):
    monkeypatch.setattr(runner, "INLINE_REQUEST_BYTES", 4_000_000)  # 100 MB, scaled down
    cell(ip, "l1", "-m pro -c long", "a lighthouse")
    cell(ip, "l2", "-c long", "add a storm")
    calls = len(generations(real_size))
    with pytest.raises(UsageError) as refused:
        cell(ip, "l3", "-c long", "add a ship")
    message = str(refused.value)
    assert len(generations(real_size)) == calls and "\n" not in message
    assert "Turn 3 of chat 'long' would send 4.6 MB, past the API's 4 MB per request" in message
    assert "{_banana}" in message and "-c long@K" in message
    with capture_output() as captured:
        ip.run_line_magic("banana", "chat long")
    assert "next request ≈ 4.6 MB" in captured.outputs[0].data["text/plain"]


def generations(sim) -> list:
    return [r for r in sim.requests if r.path.endswith(":generateContent")]
