"""The API key never leaves memory: a canary key, set each way a user can, is grepped for.

Each route (``GEMINI_API_KEY``, ``GOOGLE_API_KEY``, ``%banana key``) runs a session that
succeeds, saves, exports, and fails in the ways that echo a key (an error body quoting it,
the SDK's retry log quoting that body, a refused connection, a timeout), then greps every
place the key could surface: shown output, listings, reprs, exceptions and tracebacks
(verbose ones too), DEBUG logs of the SDK and its HTTP stack, every file written, and an
executed notebook (.ipynb) with its errors.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import sys
import traceback
import types
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from IPython.utils.capture import capture_output
from nbclient import NotebookClient

import nb_banana
from nb_banana.context import engine as kernel_engine
from nb_banana.context import session, settings
from nb_banana.errors import TransientError
from nb_banana.gemini import secrets
from nb_banana.simulator import Fault, Simulator

CORE = "nbBananaCanary"  # in every canary: finding it anywhere is a leak, whole key or not
ANSI = re.compile(r"(?:\x1b|\\u001b)\[[0-9;]*m")  # raw, or escaped in JSON
ROUTES = ["GEMINI_API_KEY", "GOOGLE_API_KEY", "%banana key", "Colab Secrets"]
LOGGERS = ["", "google_genai", "httpx", "httpcore", "httpx2", "httpcore2"]
LISTINGS = ["%banana settings", "%config Banana", "%banana history", "%banana usage",
            "%banana chats", "%banana chat house", "%banana models", "%banana error"]  # fmt: skip


def canary(route: str) -> str:
    tag = "".join(c for c in route if c.isalnum())
    return f"AIzaSy{CORE}{tag}x9Q2w"


def closed_port() -> int:
    with socket.socket() as probe:  # free a moment ago, so nothing listens there now
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def keyed(route, sim, monkeypatch, tmp_path) -> Iterator[tuple[str, Simulator]]:
    """A simulator that accepts only this route's canary, with nb_banana pointed at it."""
    key = canary(route)
    if route == "%banana key":
        monkeypatch.setattr("getpass.getpass", lambda prompt="": key)
    elif route == "Colab Secrets":
        monkeypatch.delenv("GEMINI_API_KEY")
        stand_in = types.ModuleType("google.colab")  # a stand-in for Colab's module
        stand_in.userdata = types.SimpleNamespace(get={"GOOGLE_API_KEY": key}.get)
        monkeypatch.setitem(sys.modules, "google.colab", stand_in)
    else:
        monkeypatch.setenv(route, key)
    with Simulator(api_key=key) as keyed_sim:
        settings().base_url = keyed_sim.url
        yield key, keyed_sim


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """Everything the root, SDK and HTTP loggers say at DEBUG, formatted with tracebacks."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    logging.getLogger().addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    logging.getLogger().removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def shown(ip, source: str) -> str:
    """All a cell shows: stdout, stderr (errors included) and every output's every format."""
    with capture_output() as captured:
        ip.run_cell(source)
    data = [str(value) for out in captured.outputs for value in out.data.values()]
    meta = [json.dumps(out.metadata, default=str) for out in captured.outputs]
    return "\n".join([captured.stdout, captured.stderr, *data, *meta])


def files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("route", ROUTES)
def test_canary_key_appears_nowhere_after_a_run_with_errors(ip, route, keyed, debug_logs, tmp_path):
    key, sim = keyed
    echo = f"API key not valid: {key} (key={key})."
    texts: dict[str, str] = {}
    if route == "%banana key":
        texts["%banana key"] = shown(ip, "%banana key")
    ip.run_line_magic("config", "Banana.retries = 1")
    texts["success"] = shown(ip, f"%%banana -m pro -c house --save {tmp_path / 'saved'}\na house")
    texts["follow-up"] = shown(ip, "%%banana -c house\nadd a tree")
    assert len(session().chats.get("house").turns) == 2  # the canary really was the key used
    for status in (400, 401):
        sim.inject(Fault.http(status, echo))
        texts[f"{status} echo"] = shown(ip, "%%banana -c house\nadd a dragon")
        texts[f"{status} %banana error"] = shown(ip, "%banana error")
    sim.inject(Fault.http(429, echo), times=2)  # retried once: the SDK logs the body
    texts["429 echo"] = shown(ip, "%%banana\na pig")
    sim.inject(Fault.http(500, echo), times=2)
    with pytest.raises(TransientError) as python_api:
        nb_banana.generate("a cow")
    error = python_api.value
    texts["python api error"] = "\n".join(
        [str(error), repr(error), "".join(traceback.format_exception(error))]
    )
    sim.inject(Fault.http(401, echo))
    ip.run_line_magic("xmode", "Verbose")  # every frame's locals, as a user may ask
    try:
        texts["verbose traceback"] = shown(ip, "import nb_banana\nnb_banana.generate('a hen')")
    finally:
        ip.run_line_magic("xmode", "Context")
    sim.inject(Fault.slow(3))
    ip.run_line_magic("config", "Banana.timeout = 0.3")
    ip.run_line_magic("config", "Banana.retries = 0")
    texts["timeout"] = shown(ip, "%%banana\na duck")
    ip.run_line_magic("config", f'Banana.base_url = "http://127.0.0.1:{closed_port()}"')
    texts["refused"] = shown(ip, "%%banana\na goat")
    ip.run_line_magic("config", f'Banana.base_url = "{sim.url}"')
    texts["export"] = shown(ip, f"%banana export {tmp_path / 'export'}")
    for listing in LISTINGS:
        texts[listing] = shown(ip, listing)
    texts["reprs"] = "\n".join(
        repr(value)
        for value in (ip.user_ns["_banana"], session(), session().chats.get("house"),
                      settings(), kernel_engine(), sim.requests, secrets)
    )  # fmt: skip
    texts["logs"] = debug_logs.getvalue()

    for place, text in texts.items():
        assert CORE not in text, f"the key shows in {place}"
    written = files_under(tmp_path)
    assert any(p.suffix == ".sqlite" for p in written) and len(written) > 5
    for path, data in written.items():
        assert CORE.encode() not in data, f"the key is written in {path}"
    # The places grepped really held what could have leaked, masked.
    assert "refused the key (401 UNAUTHENTICATED: API key not valid: ***" in texts["401 echo"]
    assert "Traceback" in texts["401 %banana error"] and "***" in texts["401 %banana error"]
    assert "ServerError: 500 INTERNAL" in texts["python api error"]
    assert "ClientError" in texts["verbose traceback"]
    assert "Retrying" in texts["logs"] and "HTTP Request: POST" in texts["logs"]
    assert f"message': '{echo}".replace(key, "***") in texts["logs"]
    assert "No reply within 0.3 s" in texts["timeout"]
    assert "Could not connect" in texts["refused"]


NOTEBOOK_SETUP = """\
%load_ext nb_banana
%config Banana.base_url = "{url}"
%config Banana.store = "{store}"
%config Banana.retries = 1
%config Banana.retry_delay = 0.01
import logging
logging.basicConfig(level=logging.DEBUG, force=True)
for name in ("google_genai", "httpx", "httpcore", "httpx2", "httpcore2"):
    logging.getLogger(name).setLevel(logging.DEBUG)"""
# A stand-in for Colab's ``google.colab``, whose Secrets hold the key (read from a file, so
# the notebook's source never holds it).
COLAB_KEY = """\
import sys, types
_colab = types.ModuleType("google.colab")
_colab.userdata = types.SimpleNamespace(get={{"GOOGLE_API_KEY": open("{key_file}").read()}}.get)
sys.modules["google.colab"] = _colab"""
TYPED_KEY = """\
import getpass
getpass.getpass = lambda prompt="": open("{key_file}").read()
%banana key"""


@pytest.mark.parametrize("route", ROUTES)
def test_executed_notebook_holds_no_key(route, keyed, monkeypatch, tmp_path):
    key, sim = keyed
    echo = f"API key not valid: {key}."
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # the kernel's history, here
    if route in ("%banana key", "Colab Secrets"):
        monkeypatch.delenv("GEMINI_API_KEY", raising=False)
        (tmp_path / "key.txt").write_text(key)
    typed = {"%banana key": TYPED_KEY, "Colab Secrets": COLAB_KEY}.get(route, "1")
    typed = typed.format(key_file=tmp_path / "key.txt")
    # Each cell with the fault(s) to queue just before it runs.
    cells: list[tuple[str, Fault | None, int]] = [
        (NOTEBOOK_SETUP.format(url=sim.url, store=tmp_path / "store"), None, 0),
        (typed, None, 0),
        ("%%banana -m pro -c house\na house", None, 0),
        ("%%banana -c house\nadd a dragon", Fault.http(401, echo), 1),
        ("import nb_banana\nnb_banana.generate('a cow')", Fault.http(400, echo), 1),
        ("%%banana\na pig", Fault.http(429, echo), 2),
        (f'%config Banana.base_url = "http://127.0.0.1:{closed_port()}"\n', None, 0),
        ("%%banana\na goat", None, 0),
        (f'%config Banana.base_url = "{sim.url}"', None, 0),
        ("_banana", None, 0),
        ("print(repr(_banana))", None, 0),
        *((listing, None, 0) for listing in LISTINGS),
    ]  # fmt: skip
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source, _, _ in cells]
    )
    client = NotebookClient(
        notebook, timeout=60, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    with client.setup_kernel():
        for index, (cell, (_, fault, times)) in enumerate(zip(notebook.cells, cells, strict=True)):
            if fault is not None:
                sim.inject(fault, times=times)
            client.execute_cell(cell, index)
    path = tmp_path / "run.ipynb"
    nbformat.write(notebook, path)

    saved = ANSI.sub("", path.read_text())  # colours could split the key in a traceback
    assert CORE not in saved
    for written, data in files_under(tmp_path).items():
        if written.name != "key.txt":
            assert CORE.encode() not in data, f"the key is written in {written}"
    # The notebook really holds the errors, tracebacks and logs that could have leaked it.
    outputs = [o for cell in notebook.cells for o in cell.outputs]
    assert "ApiError" in {o.get("ename") for o in outputs if o.output_type == "error"}
    assert "UsageError: The API refused the key (401 UNAUTHENTICATED: API key not valid: ***" in (
        "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    )
    assert "ClientError: 400 INVALID_ARGUMENT. {'error': {'code': 400, 'message': " in saved
    assert "'API key not valid: ***.'" in saved
    assert "Retrying" in saved and "HTTP Request: POST" in saved
    assert "Could not connect to http://127.0.0.1:" in saved
