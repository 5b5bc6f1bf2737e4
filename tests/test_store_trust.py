"""A store and a cache to trust (issue 13): the key is what was asked, of whom; the store heals.

Each test drives the magic against the simulator as a user would and counts what a user
would notice: requests on the wire, messages, files. A second simulator stands for the real
service where one is needed (``real``: ``engine.DEFAULT_ENDPOINT`` points at it).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from nb_banana.context import context, session, settings
from nb_banana.gemini import engine
from nb_banana.memory import cache
from nb_banana.memory.store import Store
from nb_banana.simulator import Fault, Simulator, server

from .conftest import TEST_SIGNATURE_BYTES, restart_kernel
from .kernels import kernels


def run(ip, line: str, text: str, cell_id: str | None = None):
    """Run ``%%banana line`` + text, as the notebook cell ``cell_id`` if given."""
    with capture_output() as captured:
        outcome = ip.run_cell(f"%%banana {line}\n{text}", cell_id=cell_id)
    if outcome.error_in_exec is not None:
        raise outcome.error_in_exec
    return captured


def magic(ip, line: str):
    with capture_output() as captured:
        ip.run_line_magic("banana", line)
    return captured


def posts(server: Simulator) -> int:
    return sum(r.method == "POST" for r in server.requests)


def notes(captured) -> str:
    return "".join(str(o.data) for o in captured.outputs) + captured.stdout


@pytest.fixture(scope="module")
def real_server():
    with Simulator() as server:
        yield server


@pytest.fixture
def real(real_server, monkeypatch):
    """A loopback endpoint that nb_banana takes for the real service; ``use()`` goes there."""
    real_server.reset()
    monkeypatch.setattr(engine, "DEFAULT_ENDPOINT", real_server.url)

    def use() -> None:
        settings().base_url = real_server.url

    real_server.use = use
    return real_server


# 1. The key says which endpoint answered.


def test_a_simulator_picture_never_answers_the_real_service(ip, sim, real):
    magic(ip, "offline")
    run(ip, "", "a red door")
    offline_answer = ip.user_ns["_banana"]
    assert offline_answer.simulated
    magic(ip, "online")
    real.use()
    run(ip, "", "a red door")
    answer = ip.user_ns["_banana"]
    assert posts(real) == 1 and not answer.cached and not answer.simulated
    restart_kernel()
    real.use()
    run(ip, "", "a red door")
    assert ip.user_ns["_banana"].cached and not ip.user_ns["_banana"].simulated
    assert posts(real) == 1
    magic(ip, "offline")
    run(ip, "", "a red door")
    assert ip.user_ns["_banana"].cached and ip.user_ns["_banana"].simulated


def test_a_custom_base_url_is_its_own_endpoint(ip, sim, real):
    run(ip, "", "a red door")  # sim: a custom base URL
    real.use()
    run(ip, "", "a red door")
    assert posts(sim) == 1 and posts(real) == 1
    assert not ip.user_ns["_banana"].cached


def test_old_rows_stay_answers_unless_the_simulator_made_them(ip, sim, real):
    """A store from before the endpoint was recorded: old simulator rows (recognised by the
    simulator's thought signatures) are never served as real answers; the rest are."""
    magic(ip, "offline")
    # Older nb_banana kept every signature inline in the row; today a long one is a blob.
    server.shared().signature_bytes = TEST_SIGNATURE_BYTES
    run(ip, "", "a red door")
    simulated = ip.user_ns["_banana"].request
    magic(ip, "online")
    real.use()
    run(ip, "", "a blue door")
    paid = ip.user_ns["_banana"].request
    store_file = Path(settings().store) / "store.sqlite"
    restart_kernel()
    with sqlite3.connect(store_file) as db:  # as an older nb_banana wrote them
        for request in (simulated, paid):
            db.execute(
                "UPDATE generations SET cache_key = ? WHERE prompt = ?",
                (cache._legacy_key(request, []), request.text),
            )
        # Gemini's own signatures are not the simulator's.
        db.execute(
            "UPDATE generations SET replies = replace(replies, 'bmJzaW0x', 'Z2VtaW5p')"
            " WHERE prompt LIKE 'a blue door%'"
        )
        db.execute("ALTER TABLE generations DROP COLUMN endpoint")
    calls = posts(real)
    real.use()
    run(ip, "", "a blue door")
    assert ip.user_ns["_banana"].cached and posts(real) == calls
    run(ip, "", "a red door")
    assert not ip.user_ns["_banana"].cached and posts(real) == calls + 1


# 2. Identical means identical: image bytes, not names; the prompt, not its whitespace.


def test_the_same_picture_under_another_name_is_answered_from_the_store(ip, sim):
    ip.user_ns["photo"] = Image.new("RGB", (16, 16), "red")
    run(ip, "", "recolour {photo} in blue")
    ip.user_ns["ref"] = ip.user_ns["photo"]
    captured = run(ip, "", "recolour {ref} in blue")
    assert posts(sim) == 1 and ip.user_ns["_banana"].cached
    assert "[ref]" in notes(captured)  # shown under the name this cell used
    assert Store(Path(settings().store)).search()[0].request["parts"][1]["label"] == "photo"


def test_a_line_and_a_cell_with_the_same_text_share_one_answer(ip, sim):
    magic(ip, "a lighthouse")
    run(ip, "", "a lighthouse\n")
    assert posts(sim) == 1 and ip.user_ns["_banana"].cached


def test_a_cell_re_run_with_a_trailing_newline_is_the_same_turn(ip, sim):
    run(ip, "-c house", "a house", cell_id="w1")
    run(ip, "-c house", "  a house\n\n", cell_id="w1")
    assert posts(sim) == 1 and ip.user_ns["_banana"].cached
    assert list(session().chats.chats) == ["house"]


# 3. A partly failed answer is history, never a cache hit.


def test_a_partly_failed_n_is_asked_again_on_re_run(ip, sim):
    sim.inject(Fault.finish("IMAGE_SAFETY"))
    captured = run(ip, "-n 4", "a lighthouse", cell_id="p1")
    assert len(ip.user_ns["_banana"].outputs) == 3 and "1 of 4 samples failed" in notes(captured)
    captured = run(ip, "-n 4", "a lighthouse", cell_id="p1")
    again = ip.user_ns["_banana"]
    assert posts(sim) == 8 and not again.cached and len(again.outputs) == 4
    assert "kept as" not in notes(captured)  # the same turn asked again: no branch
    assert list(session().chats.chats) == ["chat1"]
    run(ip, "-n 4", "a lighthouse", cell_id="p1")
    assert posts(sim) == 8 and ip.user_ns["_banana"].cached
    assert Store(Path(settings().store)).count() == 2  # the partial one kept for history


# 4. Spending per endpoint class; budgets count what may be billed.


def test_simulated_spending_does_not_count_against_the_budget(ip, sim, real):
    magic(ip, "offline")
    run(ip, "", "a red door")
    run(ip, "", "a green door")
    magic(ip, "online")
    ip.run_line_magic("config", "Banana.budget_usd = 0.05")
    real.use()
    run(ip, "", "a red door")
    assert posts(real) == 1 and not ip.user_ns["_banana"].simulated
    out = magic(ip, "usage").stdout
    assert "simulator (placeholders, not billed): 2 generations" in out
    assert "Gemini: 1 generations" in out
    assert "$0.016 left" in out


def test_the_budget_message_names_only_what_would_help(ip, sim):
    ip.run_line_magic("config", "Banana.budget_usd = 0.01")
    with pytest.raises(UsageError) as lite:
        run(ip, "", "a lighthouse")
    assert "-m lite" not in str(lite.value) and "fewer images" not in str(lite.value)
    with pytest.raises(UsageError) as pro:
        run(ip, "-m pro -n 2", "a lighthouse")
    assert "use -m lite or fewer images (-n), or raise the budget" in str(pro.value)
    assert posts(sim) == 0


def test_an_older_store_gains_the_endpoint_column(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    with sqlite3.connect(root / "store.sqlite") as db:
        db.execute(
            "CREATE TABLE generations (id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT"
            " NULL, cache_key TEXT NOT NULL, model TEXT NOT NULL, prompt TEXT NOT NULL, request"
            " TEXT NOT NULL, replies TEXT NOT NULL, images INTEGER NOT NULL, tokens INTEGER NOT"
            " NULL, cost REAL NOT NULL, elapsed REAL NOT NULL, chat TEXT, turn INTEGER)"
        )
        db.execute(
            "INSERT INTO generations VALUES (1, 0, 'k', 'm', 'p', '{}', '[]', 1, 10, 0.04, 1,"
            " NULL, NULL)"
        )
    store = Store(root)
    assert store.totals_by_endpoint()["gemini"].cost == pytest.approx(0.04)
    assert store.billed_cost() == pytest.approx(0.04)
    store.close()


# 5. The store heals.


def test_cd_does_not_split_the_store(ip, sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings().store = ".nb_banana"
    try:
        run(ip, "-c house", "a house")
        (tmp_path / "sub").mkdir()
        ip.run_line_magic("cd", "-q sub")
        run(ip, "-c house", "make it winter")
        run(ip, "", "a boat")
        assert not (tmp_path / "sub" / ".nb_banana").exists()
        store = Store(tmp_path / ".nb_banana")
        assert store.count() == 3
        assert len(store.load_chats(session().chats.scope)[0]["house"][1]) == 2
        store.close()
    finally:
        context().store_root = None


def test_a_deleted_store_folder_is_made_again_and_nothing_is_lost(ip, sim):
    root = Path(settings().store)
    run(ip, "-c house", "a house", cell_id="d1")
    run(ip, "", "a boat", cell_id="d2")
    shutil.rmtree(root)
    captured = run(ip, "", "a kite", cell_id="d3")
    kite = ip.user_ns["_banana"]
    assert kite.request.text.strip() == "a kite" and kite.generation_id and not kite.notes
    assert "Traceback" not in notes(captured)
    run(ip, "-c", "make it red", cell_id="d4")  # a chat made after the deletion goes on
    assert ip.user_ns["_banana"].turn == 2
    store = Store(root)
    assert [r.prompt.strip() for r in store.search()] == ["make it red", "a kite"]
    chats, _ = store.load_chats(session().chats.scope)
    assert set(chats) == {"house", "chat2", "chat3"}  # written back from the kernel
    store.close()
    with pytest.raises(UsageError, match=r"Chat 'house' cannot go on: .* is gone"):
        run(ip, "-c house", "make it winter", cell_id="d5")  # its picture went with it


def test_a_missing_picture_behind_a_cached_row_is_a_miss_that_repairs_it(ip, sim):
    run(ip, "", "a lighthouse", cell_id="m1")
    shutil.rmtree(Path(settings().store) / "blobs")
    captured = run(ip, "", "a lighthouse", cell_id="m1")
    assert posts(sim) == 2 and not ip.user_ns["_banana"].cached
    assert "kept as" not in notes(captured) and list(session().chats.chats) == ["chat1"]
    run(ip, "", "a lighthouse", cell_id="m1")
    assert posts(sim) == 2 and ip.user_ns["_banana"].cached
    assert ip.user_ns["_banana"].image.size[0] > 0


def test_a_store_that_cannot_write_keeps_the_paid_result(ip, sim, monkeypatch):
    import nb_banana.memory.store as store_module

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "atomic_write", full)
    captured = run(ip, "-c house", "a house")
    result = ip.user_ns["_banana"]
    assert len(result.outputs) == 1 and result.generation_id is None
    (note,) = [n for n in result.notes if "Not kept" in n]
    assert f"The store {settings().store}" in note and "disk is full" in note
    assert "Traceback" not in notes(captured)
    run(ip, "-c house", "make it winter")  # the chat goes on from memory
    assert ip.user_ns["_banana"].turn == 2 and posts(sim) == 2


# 6. A store that is a file; subcommand arguments as a shell splits them.


@pytest.mark.parametrize("command", ["usage", "history", "export out"])
def test_a_store_that_is_a_file_gives_one_line(ip, sim, tmp_path, command):
    store_file = tmp_path / "not-a-folder"
    store_file.write_text("x")
    settings().store = str(store_file)
    with pytest.raises(UsageError) as error:
        magic(ip, command)
    message = str(error.value)
    assert "\n" not in message
    assert f"The store {store_file} is a file, not a folder" in message
    assert "%config Banana.store" in message


def test_export_takes_a_quoted_folder_name(ip, sim, tmp_path, monkeypatch):
    run(ip, "", "a lighthouse")
    monkeypatch.chdir(tmp_path)
    magic(ip, 'export "my exports"')
    assert (tmp_path / "my exports" / "index.json").exists()
    with pytest.raises(UsageError, match="as one folder"):
        magic(ip, "export my exports")


# 7. Chats scoped by notebook.


def test_notebooks_run_headless_in_one_folder_do_not_share_chats(ip, sim):
    run(ip, "", "a house", cell_id="nb-a-1")
    restart_kernel()  # another notebook, same folder, no notebook name
    captured = run(ip, "-c", "make it red", cell_id="nb-b-1")
    assert "No chat yet in this notebook" in captured.stdout
    assert [t.prompt.strip() for t in session().chats.get("chat1").turns] == ["make it red"]
    restart_kernel()  # the first notebook again: its chats are there
    run(ip, "", "a house", cell_id="nb-a-1")
    assert ip.user_ns["_banana"].cached
    assert [t.prompt.strip() for t in session().chats.get("chat1").turns] == ["a house"]


def test_a_renamed_notebook_finds_its_chats_by_cell_id(ip, sim):
    ip.user_ns["__session__"] = "/home/me/draft.ipynb"
    try:
        run(ip, "-c house", "a house", cell_id="r1")
        run(ip, "-c house", "make it winter", cell_id="r2")
        restart_kernel()
        ip.user_ns["__session__"] = "/home/me/final.ipynb"
        run(ip, "-c house", "make it winter", cell_id="r2")
        assert ip.user_ns["_banana"].cached and posts(sim) == 2
        assert session().chats.scope == "/home/me/final.ipynb"
        assert len(session().chats.get("house").turns) == 2
    finally:
        del ip.user_ns["__session__"]


def _run_headless(path: Path) -> str:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    return "".join(str(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []))


def test_notebooks_run_by_nbclient_in_one_folder_keep_their_own_chats(sim, tmp_path):
    """nbclient sends no cell ids and no notebook name: the code run so far tells them apart."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    setup = f"%load_ext nb_banana\n%config Banana.base_url = {sim.url!r}"
    for name, cells in {
        "a.ipynb": ["%%banana\na house", "%%banana -c\nmake it winter"],
        "b.ipynb": ["%%banana -c\nmake it red"],
    }.items():
        notebook = new_notebook(cells=[new_code_cell(setup)] + [new_code_cell(c) for c in cells])
        nbformat.write(notebook, tmp_path / name)
    _run_headless(tmp_path / "a.ipynb")
    assert "No chat yet in this notebook" in _run_headless(tmp_path / "b.ipynb")
    assert posts(sim) == 3
    _run_headless(tmp_path / "a.ipynb")  # its chat is its own: Run All again is free
    assert posts(sim) == 3


def test_a_second_kernel_notices_the_store_was_made_again_under_it(sim, tmp_path):
    """Kernels A and B on one folder; A deletes ``.nb_banana`` and heals it. B must not go on
    writing into the unlinked database: after a restart it re-runs its cells for free."""
    store = tmp_path / ".nb_banana"
    with kernels(sim.url, store, tmp_path, count=2) as (a, b):
        assert not a.run("%%banana\na house").error
        assert not b.run("%%banana\na boat").error
        shutil.rmtree(store)
        assert not a.run("%%banana\na kite").error  # A makes the folder again
        b_cells = ["%%banana\na red door", "%%banana\na blue door"]
        for cell in b_cells:
            assert not b.run(cell).error
        assert posts(sim) == 5
        b.restart()
        for cell in b_cells:
            assert not b.run(cell).error
        assert posts(sim) == 5, "B paid again: its rows went into the deleted file"
        assert b.run("print(_banana.cached)").stdout.strip() == "True"
        prompts = {r.prompt.strip() for r in Store(store).search()}
        assert {"a kite", "a red door", "a blue door"} <= prompts
