"""Today's models through the magic, the SDK and the simulator: ids, shutdowns, the API's list,
and the options the models gained (512, the extreme ratios, thinking levels, image search)."""

from __future__ import annotations

from datetime import date

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nb_banana.context import context, settings
from nb_banana.gemini import models
from nb_banana.gemini.models import MODELS, current_models, default_model, live_model, resolve_model
from nb_banana.simulator import Fault, listing
from nb_banana.turns import catalog

from .cells import run

BEFORE_SHUTDOWN = date(2026, 6, 1)


def fails(ip, line: str, cell: str) -> str:
    with pytest.raises(UsageError) as info, capture_output():
        ip.run_cell_magic("banana", line, cell)
    return str(info.value)


def config_of(sim) -> dict:
    return sim.requests[-1].body["generationConfig"]


@pytest.fixture
def june(monkeypatch):
    """Replay a day before the preview models were shut down (the simulator serves them)."""
    monkeypatch.setattr(models, "_today", lambda: BEFORE_SHUTDOWN)


@pytest.fixture
def fresh_catalog(monkeypatch):
    context().catalogs.clear()


def test_every_entry_has_its_life_and_source_dates():
    for spec in MODELS:
        assert spec.status in ("stable", "preview") and spec.released and spec.prices_read
        assert (spec.shutdown is None) == (spec.replacement is None)
        if spec.replacement:
            assert resolve_model(spec.replacement).known


def test_the_default_is_the_cheapest_current_stable_model():
    assert settings().model == default_model().id == "gemini-3.1-flash-lite-image"
    cheapest = min(current_models(), key=lambda m: m.price_per_image("1K"))
    assert default_model() is cheapest


def test_aliases_name_todays_models():
    assert resolve_model("lite").id == "gemini-3.1-flash-lite-image"
    assert resolve_model("flash").id == resolve_model("flash2").id == "gemini-3.1-flash-image"
    assert resolve_model("nano-banana-2").id == "gemini-3.1-flash-image"
    assert resolve_model("pro").id == resolve_model("nano-banana-pro").id == "gemini-3-pro-image"


def test_the_shut_down_ids_point_to_their_replacements():
    assert live_model("gemini-3-pro-image-preview") == (
        resolve_model("gemini-3-pro-image"),
        "gemini-3-pro-image-preview was shut down on 2026-06-25; using gemini-3-pro-image.",
    )
    assert live_model("gemini-2.5-flash-image")[0].id == "gemini-3.1-flash-image"
    assert live_model("gemini-3-pro-image-preview", BEFORE_SHUTDOWN)[1] == ""


def test_a_default_cell_calls_nano_banana_2_lite(ip, sim):
    run(ip, "", "a lighthouse")
    assert sim.requests[-1].model == "gemini-3.1-flash-lite-image"
    assert "imageConfig" not in config_of(sim)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("gemini-3-pro-image-preview", "gemini-3-pro-image"),
        ("gemini-3.1-flash-image-preview", "gemini-3.1-flash-image"),
        ("gemini-2.5-flash-image", "gemini-3.1-flash-image"),
    ],
)
def test_a_shut_down_id_in_a_cell_goes_to_its_replacement_with_one_line(ip, sim, old, new):
    captured = run(ip, f"-m {old}", "a red door")
    assert sim.requests[-1].model == new
    assert f"{old} was shut down on" in captured.stdout + str(captured.outputs[0].data)
    assert f"using {new}" in captured.outputs[0].data["text/html"]


def test_a_shut_down_id_in_the_settings_goes_to_its_replacement(ip, sim):
    ip.run_line_magic("config", 'Banana.model = "gemini-3-pro-image-preview"')
    captured = run(ip, "", "a red door")
    assert sim.requests[-1].model == "gemini-3-pro-image"
    assert "gemini-3-pro-image-preview was shut down" in captured.outputs[0].data["text/html"]


def test_the_simulator_answers_a_shut_down_id_with_the_apis_404(ip, sim):
    from google import genai
    from google.genai import errors, types

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=sim.url))
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-3-pro-image-preview", contents="a cat")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert "models/gemini-3-pro-image-preview is not found" in info.value.message


def test_a_404_for_a_model_the_table_thought_live_names_its_replacement(ip, sim, june):
    sim.inject(Fault.http(404))
    message = fails(ip, "-m gemini-3-pro-image-preview", "a red door")
    assert message == (
        "The API no longer serves gemini-3-pro-image-preview (404 NOT_FOUND): use its "
        "replacement, -m gemini-3-pro-image."
    )


def test_an_old_notebook_re_runs_from_the_store_after_its_model_shut_down(ip, sim, monkeypatch):
    with monkeypatch.context() as june:
        june.setattr(models, "_today", lambda: BEFORE_SHUTDOWN)
        run(ip, "-m gemini-3-pro-image-preview -a 16:9", "a red door")
    assert sim.requests[-1].model == "gemini-3-pro-image-preview"
    sim.clear_requests()

    captured = run(ip, "-m gemini-3-pro-image-preview -a 16:9", "a red door")
    assert sim.requests == []
    result = ip.user_ns["_banana"]
    assert result.cached and result.image.size == (1376, 768)
    assert "gemini-3-pro-image-preview was shut down" in captured.outputs[0].data["text/html"]


def test_a_chat_made_before_the_shutdown_continues_or_says_to_start_anew(ip, sim, monkeypatch):
    with monkeypatch.context() as june:
        june.setattr(models, "_today", lambda: BEFORE_SHUTDOWN)
        run(ip, "-m gemini-3-pro-image-preview -c door", "a red door")

    message = fails(ip, "-c door", "make it blue")
    assert sim.requests[-1].model == "gemini-3-pro-image"
    assert "its turns were made by gemini-3-pro-image-preview, which was shut down" in message
    assert "Start a new chat from its last picture" in message and "\n" not in message
    from nb_banana.context import session

    assert len(session().chats.get("door").turns) == 1  # the thread is as it was
    assert "would carry the same history" in fails(ip, "-c door@1", "make it blue")
    run(ip, "-m pro", "make it blue {_banana}")  # what the message says works
    parts = sim.requests[-1].body["contents"][-1]["parts"]
    assert (
        sim.requests[-1].model == "gemini-3-pro-image"
        and len(sim.requests[-1].body["contents"]) == 1
    )
    assert any("inlineData" in part or "inline_data" in part for part in parts)
    assert len(ip.user_ns["_banana"].outputs) == 1


def test_an_id_newer_than_the_table_works_at_once(ip, sim):
    captured = run(ip, "-m gemini-4-flash-image", "a red door")
    assert sim.requests[-1].model == "gemini-4-flash-image"
    assert "is not in nb_banana" in captured.outputs[0].data["text/html"]


def test_models_without_a_key_shows_the_table_only(ip, sim, monkeypatch, fresh_catalog):
    monkeypatch.delenv("GEMINI_API_KEY")
    with capture_output() as captured:
        ip.run_line_magic("banana", "models")
    text = captured.outputs[0].data["text/markdown"]
    for spec in MODELS:
        assert f"`{spec.id}`" in text
    assert "shut down 2026-06-25 → `gemini-3-pro-image`" in text
    assert "512 $0.045 · 1K $0.067 · 2K $0.101 · 4K $0.151" in text
    assert "No API key is set" in text and "Table checked 2026-12-02" in text
    assert sim.requests == []


def test_models_with_a_key_asks_the_api_once_and_marks_what_differs(
    ip, sim, monkeypatch, fresh_catalog
):
    listed = [m for m in current_models() if m.id != "gemini-3.1-flash-lite-image"]
    monkeypatch.setattr(listing, "current_models", lambda: tuple(listed))
    with capture_output() as captured:
        ip.run_line_magic("banana", "models")
    text = captured.outputs[0].data["text/markdown"]
    assert "🆕 `gemini-4-flash-image`" in text and "-m gemini-4-flash-image" in text
    assert "⚠️ `gemini-3.1-flash-lite-image`" in text
    assert "imagen" not in text and "`gemini-3-flash`" not in text
    asked = [r for r in sim.requests if r.method == "GET"]
    assert asked and all(r.path.split("?")[0].endswith("/models") for r in asked)

    with capture_output():
        ip.run_line_magic("banana", "models")
    assert len([r for r in sim.requests if r.method == "GET"]) == len(asked)


def test_a_failed_list_is_one_line_and_asked_again_next_time(ip, sim, monkeypatch, fresh_catalog):
    monkeypatch.setenv("GEMINI_API_KEY", "wrong-key")
    sim.api_key = "test-key-0123456789abcdef"
    try:
        with capture_output() as captured:
            ip.run_line_magic("banana", "models")
    finally:
        sim.api_key = None
    text = captured.outputs[0].data["text/markdown"]
    assert "Could not ask the API for its model list (ClientError: 400" in text
    assert "wrong-key" not in text
    with capture_output() as captured:
        ip.run_line_magic("banana", "models")
    assert "🆕 `gemini-4-flash-image`" in captured.outputs[0].data["text/markdown"]


def test_the_panel_offers_the_apis_new_model_once_listed(sim, fresh_catalog):
    from nb_banana.faces.panel import Panel

    panel = Panel({})
    catalog.wait()
    panel.wait(10)
    values = [value for _, value in panel.form.model.options]
    assert values[:3] == [m.id for m in current_models()]
    assert "gemini-4-flash-image" in values
    assert not any("preview" in value for value in values)
    panel.close()


def test_512_and_an_extreme_ratio_are_sent_and_drawn(ip, sim):
    run(ip, "-m flash -s 512 -a 8:1", "a banner of lemons")
    assert config_of(sim)["imageConfig"] == {"aspectRatio": "8:1", "imageSize": "512"}
    assert ip.user_ns["_banana"].image.size == (1536, 192)


def test_lite_takes_the_extreme_ratios_without_an_image_size(ip, sim):
    run(ip, "-a 1:4", "a tall tower")
    assert config_of(sim)["imageConfig"] == {"aspectRatio": "1:4"}
    assert ip.user_ns["_banana"].image.size == (512, 2048)


@pytest.mark.parametrize("level", ["minimal", "high"])
def test_thinking_level_is_sent_as_thinking_config(ip, sim, level):
    run(ip, f"-m flash --thinking {level.upper()}", "a fox")
    assert config_of(sim)["thinkingConfig"] == {"thinking_level": level.upper()}


def test_thinking_level_default_comes_from_the_settings(ip, sim):
    ip.run_line_magic("config", 'Banana.thinking = "high"')
    run(ip, "", "a fox")
    assert config_of(sim)["thinkingConfig"] == {"thinking_level": "HIGH"}
    with pytest.raises(Exception, match="Invalid thinking level 'max'"):
        settings().thinking = "max"


@pytest.mark.parametrize(
    ("line", "tools"),
    [
        ("--search", [{"googleSearch": {}}]),
        ("--search web", [{"googleSearch": {}}]),
        ("--search image", [{"googleSearch": {"searchTypes": {"image_search": {}}}}]),
        (
            "--search web,image",
            [{"googleSearch": {"searchTypes": {"web_search": {}, "image_search": {}}}}],
        ),
    ],
)
def test_search_kinds_are_sent_as_the_sdk_spells_them(ip, sim, line, tools):
    run(ip, f"-m flash {line}", "this week's weather in Rome")
    assert sim.requests[-1].body["tools"] == tools


def test_image_search_sources_are_shown_and_kept(ip, sim):
    captured = run(ip, "-m flash --search image", "the Eiffel tower at night")
    result = ip.user_ns["_banana"]
    images = [s for s in result.sources if s.image_uri]
    assert images and images[0].image_uri.startswith("https://")
    assert f'href="{images[0].image_uri}"' in captured.outputs[0].data["text/html"]
    sim.clear_requests()
    run(ip, "-m flash --search image", "the Eiffel tower at night")
    assert sim.requests == [] and ip.user_ns["_banana"].sources == result.sources


def test_the_line_magic_takes_a_search_kind_before_the_prompt(ip, sim):
    with capture_output():
        ip.run_line_magic("banana", "-m flash --search image a fox in the snow")
    body = sim.requests[-1].body
    assert body["tools"] == [{"googleSearch": {"searchTypes": {"image_search": {}}}}]
    assert body["contents"][-1]["parts"] == [{"text": "a fox in the snow"}]
    with capture_output():
        ip.run_line_magic("banana", "-m flash --search a fox")
    assert sim.requests[-1].body["contents"][-1]["parts"] == [{"text": "a fox"}]


def test_dry_run_shows_the_new_options_in_the_rest_shape(ip, sim):
    with capture_output() as captured:
        ip.run_cell_magic("banana", "-m flash --dry-run --thinking high --search image", "a fox")
    text = "".join(str(o.data) for o in captured.outputs)
    assert "thinkingLevel" in text and "imageSearch" in text
    assert sim.requests == []
