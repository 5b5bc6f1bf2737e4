"""Who picks a picture's shape: the model, unless someone asked (issue 19).

Google's model keeps an edited picture's shape and makes a new one square unless the
request names ``imageConfig.aspectRatio``; nb_banana used to name 1:1 on every call. These
tests read the bodies the simulator received, on every face and path.
"""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output
from PIL import Image

import nb_banana
from nb_banana.context import settings
from nb_banana.faces.panel import Panel

from .test_batch import creates, in_cell
from .test_compare import run


def generation_configs(sim) -> list[dict]:
    return [r.body["generationConfig"] for r in sim.requests if r.path.endswith(":generateContent")]


def shown(captured) -> str:
    return "".join(o.data.get("text/plain", "") for o in captured.outputs)


@pytest.fixture
def wide(ip):
    """A 1280×480 picture in the notebook, as in the issue."""
    ip.user_ns["wide"] = Image.new("RGB", (1280, 480), "navy")
    return ip.user_ns["wide"]


def test_an_edit_without_a_ratio_sends_none_and_keeps_the_pictures_shape(ip, sim, wide):
    captured = run(ip, "", "Make {wide} a night scene")
    assert generation_configs(sim) == [{"responseModalities": ["TEXT", "IMAGE"]}]
    result = ip.user_ns["_banana"]
    width, height = result.image.size
    assert width > height  # the simulator, like Google, keeps the edited picture's shape
    assert f"{width}×{height} (≈21:9, model's choice)" in shown(captured)
    assert "1:1" not in shown(captured)


def test_a_dry_run_shows_no_ratio_and_says_who_chooses(ip, sim, wide):
    captured = run(ip, "--dry-run", "Make {wide} a night scene")
    text = shown(captured)
    assert '"imageConfig"' not in text and "aspectRatio" not in text
    assert "shape: the model’s choice" in text
    assert sim.requests == []


def test_a_ratio_asked_in_the_cell_or_the_config_goes_on_the_wire(ip, sim, wide):
    run(ip, "-a 16:9", "Make {wide} a night scene")
    settings().aspect = "4:5"
    run(ip, "-i wide", "now in spring")
    run(ip, "-a auto", "now in autumn {wide}")  # a cell can still leave it to the model
    configs = generation_configs(sim)
    assert configs[0]["imageConfig"] == {"aspectRatio": "16:9"}
    assert configs[1]["imageConfig"] == {"aspectRatio": "4:5"}
    assert "imageConfig" not in configs[2]


def test_a_follow_up_carries_a_ratio_its_chat_set_and_none_where_it_set_none(ip, sim, wide):
    run(ip, "-c poster -a 3:2", "Make {wide} a poster", cell_id="p1")
    run(ip, "-c poster", "add a title", cell_id="p2")
    run(ip, "-c sketch", "Make {wide} a sketch", cell_id="s1")
    run(ip, "-c sketch", "add a moon", cell_id="s2")
    configs = generation_configs(sim)
    assert [c.get("imageConfig") for c in configs] == [
        {"aspectRatio": "3:2"}, {"aspectRatio": "3:2"}, None, None,
    ]  # fmt: skip


def test_the_line_magic_and_generate_send_no_ratio(ip, sim, wide):
    ip.run_line_magic("banana", "Make {wide} a night scene")
    nb_banana.generate("a lighthouse at dusk from", wide)
    nb_banana.generate("a lighthouse", wide, aspect="9:16")
    configs = generation_configs(sim)
    assert ["imageConfig" in c for c in configs] == [False, False, True]


def test_each_and_a_comparison_send_no_ratio(ip, sim, wide):
    ip.user_ns["styles"] = ["ink", "oil"]
    run(ip, "--each styles", "Make {wide} in {item}")
    run(ip, "-m lite,flash,pro", "Make {wide} a night scene")
    configs = generation_configs(sim)
    assert len(configs) == 5
    assert all("imageConfig" not in c for c in configs)


def test_a_batch_job_sends_no_ratio(ip, sim, wide):
    in_cell(ip, "batch-1", "b = nb_banana.submit_batch(['a fox', 'a hare'])")
    requests = creates(sim)[0].body["batch"]["inputConfig"]["requests"]["requests"]
    assert all("imageConfig" not in r["request"]["generationConfig"] for r in requests)


def test_the_panel_leaves_the_shape_to_the_model_unless_chosen(ip, sim, wide):
    panel = Panel(namespace=ip.user_ns)
    try:
        assert panel.form.aspect.value == "" and panel.form.aspect.label == "model's choice"
        panel.form.prompt.value = "Make {wide} a night scene"
        panel.generate_button.click()
        panel.wait(20)
        panel.form.aspect.value = "16:9"
        panel.form.prompt.value = "Make {wide} a day scene"
        panel.generate_button.click()
        panel.wait(20)
    finally:
        panel.close()
        panel.wait(10)
    configs = generation_configs(sim)
    assert "imageConfig" not in configs[-2]
    assert configs[-1]["imageConfig"] == {"aspectRatio": "16:9"}


def test_a_cell_stored_under_the_old_square_default_is_not_paid_again(ip, sim, wide):
    """Before, an unset ratio and size went out as 1:1 and 1K; a cell stored then (here the
    same request asked explicitly) is answered from the store and says it was made square."""
    run(ip, "-a 1:1 -s 1K", "Make {wide} a night scene")
    calls = len(sim.requests)
    captured = run(ip, "", "Make {wide} a night scene")
    assert len(sim.requests) == calls
    assert ip.user_ns["_banana"].cached
    assert "Made square" in shown(captured) and "--fresh" in shown(captured)
    run(ip, "--fresh", "Make {wide} a night scene")
    assert len(sim.requests) == calls + 1
    assert "imageConfig" not in generation_configs(sim)[-1]


def test_a_size_asked_goes_on_the_wire_and_unset_sends_none(ip, sim):
    run(ip, "-m flash -s 2K", "a cat")
    run(ip, "-m flash", "a dog")
    configs = generation_configs(sim)
    assert configs[0]["imageConfig"] == {"imageSize": "2K"}
    assert "imageConfig" not in configs[1]
    assert ip.user_ns["_banana"].image.size == (1024, 1024)  # the API's own 1K


def test_saved_provenance_and_the_chat_timeline_say_what_came_back(ip, sim, wide, tmp_path):
    run(ip, "-c night", "Make {wide} a night scene", cell_id="t1")
    result = ip.user_ns["_banana"]
    width, height = result.image.size
    paths = result.save(tmp_path / "night.png")
    info = nb_banana.provenance(paths[0])
    assert info["aspect"] == ""
    assert info["pictures"] == [f"{width}×{height} (≈21:9, model's choice)"]
    with capture_output() as captured:
        ip.run_line_magic("banana", "chat night")
    text = shown(captured)
    assert f"{width}×{height} (≈21:9, model's choice)" in text
    assert "next request ≈" in text and "of the API's 100 MB" in text
