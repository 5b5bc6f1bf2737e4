"""The local store: cache rules, restarts, concurrent writers, crashes, provenance, budget."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

import nb_banana
from nb_banana.answer.stamp import provenance
from nb_banana.context import settings
from nb_banana.memory.store import Store

from .cells import run
from .conftest import TEST_KEY


def embedded_images(captured) -> list[Image.Image]:
    html = "".join(o.data.get("text/html", "") for o in captured.outputs)
    found = re.findall(r'src="data:image/[a-z]+;base64,([^"]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(b))) for b in found]


def test_identical_request_is_answered_from_the_store(ip, sim):
    run(ip, "-n 2", "a lighthouse")
    first = ip.user_ns["_banana"]
    captured = run(ip, "-n 2", "a lighthouse")
    again = ip.user_ns["_banana"]
    assert len(sim.requests) == 2  # only the first cell's two calls
    assert again.cached and again.cost == 0
    assert [o.data for o in again.outputs] == [o.data for o in first.outputs]
    assert "cached" in captured.outputs[0].data["text/html"]


@pytest.mark.parametrize("second_line", ["-a 16:9", "-n 2", "-m pro"])
def test_a_different_option_is_a_cache_miss(ip, sim, second_line):
    run(ip, "", "a lighthouse")
    run(ip, second_line, "a lighthouse")
    assert not ip.user_ns["_banana"].cached


def test_different_image_bytes_are_a_cache_miss(ip, sim):
    ip.user_ns["ref"] = Image.new("RGB", (8, 8), "red")
    run(ip, "", "recolour {ref}")
    ip.user_ns["ref"] = Image.new("RGB", (8, 8), "blue")
    run(ip, "", "recolour {ref}")
    assert not ip.user_ns["_banana"].cached
    assert len(sim.requests) == 2


def test_chat_history_is_part_of_the_key(ip, sim):
    run(ip, "", "a house")
    run(ip, "-c", "make it red")
    run(ip, "", "a boat")
    run(ip, "-c", "make it red")
    assert not ip.user_ns["_banana"].cached
    assert len(sim.requests) == 4


def test_a_cached_follow_up_still_extends_the_chat(ip, sim):
    from nb_banana.context import session

    run(ip, "", "a house")
    run(ip, "-c", "make it red")
    run(ip, "", "a house")  # cached: starts a new chat with the same first turn
    run(ip, "-c", "make it red")  # same history: cached too
    assert ip.user_ns["_banana"].cached
    assert len(session().chats.current_chat().turns) == 2
    assert len(sim.requests) == 2


def test_fresh_asks_for_a_new_sample_and_it_becomes_the_cached_one(ip, sim):
    run(ip, "", "a lighthouse")
    first = ip.user_ns["_banana"].image.tobytes()
    run(ip, "--fresh", "a lighthouse")
    assert len(sim.requests) == 2 and not ip.user_ns["_banana"].cached
    fresh = ip.user_ns["_banana"].image.tobytes()
    assert fresh != first
    run(ip, "", "a lighthouse")
    assert ip.user_ns["_banana"].cached
    assert ip.user_ns["_banana"].image.tobytes() == fresh
    assert len(sim.requests) == 2


def test_cache_can_be_turned_off(ip, sim):
    ip.run_line_magic("config", "Banana.cache = False")
    run(ip, "", "a lighthouse")
    run(ip, "", "a lighthouse")
    assert len(sim.requests) == 2


def _python(code: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY",)}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_a_restarted_kernel_hits_the_cache(ip, sim):
    run(ip, "-a 4:3", "a windmill")
    code = f"""
        import nb_banana
        from nb_banana.context import settings
        settings().store = {settings().store!r}
        settings().base_url = {sim.url!r}
        r = nb_banana.generate("a windmill", aspect="4:3")
        print(r.cached, r.image.size)
    """
    out = _python(code, {"GEMINI_API_KEY": TEST_KEY})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "(1200,", "896)"]
    assert len(sim.requests) == 1


def test_two_processes_writing_one_store_lose_nothing(sim, tmp_path):
    store_dir = tmp_path / "shared-store"
    code = f"""
        import sys
        import nb_banana
        from nb_banana.context import settings
        settings().store = {str(store_dir)!r}
        settings().base_url = {sim.url!r}
        for i in range(200):
            r = nb_banana.generate(f"writer {{sys.argv[1]}} picture {{i}}")
            if r.generation_id is None or r.notes:
                print(i, r.generation_id, r.notes)
    """
    env = {**os.environ, "GEMINI_API_KEY": TEST_KEY}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), name], env=env, stdout=subprocess.PIPE
        )
        for name in ("a", "b")
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs == [b"", b""]
    store = Store(store_dir)
    rows = store.search(limit=1000)
    assert len(rows) == 400
    for row in rows:
        blob = row.replies[0]["images"][0]["blob"]
        Image.open(store.blob_path(blob)).verify()


def test_a_crash_between_temp_file_and_rename_leaves_the_store_readable(ip, sim):
    run(ip, "", "a lighthouse")
    code = f"""
        import os
        import nb_banana
        from nb_banana.context import settings
        settings().store = {settings().store!r}
        settings().base_url = {sim.url!r}
        os.replace = lambda *a, **k: os._exit(9)
        nb_banana.generate("a crash")
    """
    out = _python(code, {"GEMINI_API_KEY": TEST_KEY})
    assert out.returncode == 9
    store = Store(Path(settings().store))
    assert [r.prompt for r in store.search()] == ["a lighthouse"]
    run(ip, "", "a lighthouse")
    assert ip.user_ns["_banana"].cached


def test_saved_files_carry_their_provenance(ip, sim, tmp_path):
    ip.user_ns["ref"] = Image.new("RGB", (8, 8), "red")
    run(ip, "-m pro -a 3:2", "a poster of {ref}, 富士山")
    result = ip.user_ns["_banana"]
    for name in ("p.png", "p.jpg", "p.webp"):
        (path,) = result.save(tmp_path / name)
        info = nb_banana.provenance(path)
        assert info["prompt"] == "a poster of [ref], 富士山"
        assert info["model"] == "gemini-3-pro-image" and info["aspect"] == "3:2"
        assert len(info["references"]) == 1
        assert TEST_KEY not in json.dumps(info)


def test_saved_png_keeps_the_image_data_as_received(ip, sim, tmp_path):
    run(ip, "", "a lighthouse")
    (path,) = ip.user_ns["_banana"].save(tmp_path / "x.png")
    assert Image.open(path).tobytes() == ip.user_ns["_banana"].image.tobytes()


def test_notebook_gets_a_screen_sized_preview_and_save_gets_the_original(ip, sim, tmp_path):
    captured = run(ip, "-m pro -s 4K -a 16:9", "a city at night")
    (shown,) = embedded_images(captured)
    assert max(shown.size) <= 1024
    (path,) = ip.user_ns["_banana"].save(tmp_path / "full.png")
    assert Image.open(path).size == (5504, 3072)


def test_budget_refuses_a_call_before_sending(ip, sim):
    ip.run_line_magic("config", "Banana.budget_usd = 0.05")
    run(ip, "", "a lighthouse")
    with pytest.raises(UsageError, match=r"over Banana\.budget_usd = \$0\.050"):
        run(ip, "", "a different lighthouse")
    assert len(sim.requests) == 1
    run(ip, "", "a lighthouse")  # cached answers cost nothing and pass
    assert ip.user_ns["_banana"].cached


def test_history_finds_past_generations_by_text(ip, sim):
    run(ip, "", "a red lighthouse")
    run(ip, "", "a blue boat")
    with capture_output() as captured:
        ip.run_line_magic("banana", "history boat")
    plain = captured.outputs[0].data["text/plain"]
    assert "a blue boat" in plain and "lighthouse" not in plain
    assert "data:image/jpeg;base64," in captured.outputs[0].data["text/html"]


def test_export_writes_images_and_an_index(ip, sim, tmp_path):
    run(ip, "-n 2", "a red lighthouse")
    with capture_output():
        ip.run_line_magic("banana", f"export {tmp_path / 'out'}")
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert len(index) == 2
    assert (tmp_path / "out" / "index.csv").read_text().startswith("file,id,prompt")
    first = tmp_path / "out" / index[0]["file"]
    assert provenance(first)["prompt"] == "a red lighthouse"


def test_usage_reports_the_kernel_and_the_store(ip, sim):
    run(ip, "", "a red lighthouse")
    run(ip, "", "a red lighthouse")
    with capture_output() as captured:
        ip.run_line_magic("banana", "usage")
    assert "This kernel: 2 calls, 2 images" in captured.stdout
    assert "(1 answered from the cache)" in captured.stdout
    assert "1 generations, 1 images" in captured.stdout
    assert "$0.034" in captured.stdout
