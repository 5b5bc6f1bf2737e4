"""What a new user meets in the first hour (issue 13): options that do what they say, a
path held in a string, the model's text shown once, ``%banana error`` after any failure,
and a panel that sends previews, not originals, to the browser."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

import nb_banana
from nb_banana.context import settings
from nb_banana.errors import OptionError
from nb_banana.gemini import models
from nb_banana.gemini.request import build_request
from nb_banana.turns import catalog

from .cells import run


def line(ip, text: str):
    with capture_output() as captured:
        ip.run_line_magic("banana", text)
    return captured


def calls(sim) -> list:
    """The generateContent calls the simulator received (not the model list)."""
    return [r for r in sim.requests if r.method == "POST"]


def sent_text(sim) -> str:
    parts = calls(sim)[-1].body["contents"][-1]["parts"]
    return "".join(p.get("text", "") for p in parts)


def shown(captured) -> str:
    """Everything the cell put on screen, in every representation."""
    return (
        "".join("".join(str(v) for v in o.data.values()) for o in captured.outputs)
        + captured.stdout
    )


def inline(part: dict) -> dict | None:
    return part.get("inlineData") or part.get("inline_data")


# -n below 1 -----------------------------------------------------------------------------


@pytest.mark.parametrize("count", ["0", "-2"])
def test_count_below_one_is_refused_in_one_line_and_nothing_is_sent(ip, sim, count):
    with pytest.raises(UsageError) as cell_error:
        run(ip, f"-n {count}", "a cat")
    assert str(cell_error.value) == f"-n/--count must be between 1 and 16, not {count}."
    with pytest.raises(UsageError, match=rf"^-n/--count must be between 1 and 16, not {count}\.$"):
        line(ip, f"-n {count} a cat")
    assert calls(sim) == []


def test_count_zero_is_refused_by_generate_too(sim):
    with pytest.raises(OptionError, match=r"between 1 and 16, not 0"):
        nb_banana.generate("a cat", n=0)
    assert calls(sim) == []


# -c NAME on the line --------------------------------------------------------------------


def test_line_magic_dash_c_name_continues_that_chat(ip, sim):
    run(ip, "-c house", "a house with a blue door")
    run(ip, "", "a boat")  # another chat is now the current one
    line(ip, "-c house a red door")
    result = ip.user_ns["_banana"]
    assert result.chat == "house" and result.turn == 2
    assert sent_text(sim) == "a red door"
    history = calls(sim)[-1].body["contents"]
    assert len(history) == 3 and history[0]["parts"][0]["text"] == "a house with a blue door"


def test_line_magic_dash_c_then_an_ordinary_word_continues_the_current_chat(ip, sim):
    run(ip, "", "a boat")
    boat = ip.user_ns["_banana"].chat
    line(ip, "-c make it winter")
    result = ip.user_ns["_banana"]
    assert sent_text(sim) == "make it winter"
    assert result.chat == boat and result.turn == 2


def test_line_magic_dash_c_equals_starts_the_named_chat(ip, sim):
    line(ip, "-c=garden a rose bush")
    assert ip.user_ns["_banana"].chat == "garden"
    assert sent_text(sim) == "a rose bush"
    line(ip, "-c garden now in winter")
    assert ip.user_ns["_banana"].chat == "garden" and ip.user_ns["_banana"].turn == 2
    assert sent_text(sim) == "now in winter"


def test_line_magic_name_at_k_branches_from_that_turn(ip, sim):
    run(ip, "-c house", "a house")
    run(ip, "-c house", "add a garden")
    line(ip, "-c house@1 add a pool")
    result = ip.user_ns["_banana"]
    assert result.chat.startswith("house.") and result.turn == 2
    assert sent_text(sim) == "add a pool"
    assert len(calls(sim)[-1].body["contents"]) == 3  # turn 1 of house, then the new ask


# --save ---------------------------------------------------------------------------------


def test_save_to_a_file_with_several_images_numbers_the_files(ip, sim, tmp_path):
    captured = run(ip, f"-n 2 --save {tmp_path / 'poster.png'}", "two posters")
    assert not (tmp_path / "poster.png").exists()
    for name in ("poster-1.png", "poster-2.png"):
        assert Image.open(tmp_path / name).size == (1024, 1024)
    assert "Saved 2 images" in captured.stdout and "poster-2.png" in captured.stdout


def test_a_folder_target_numbers_on_and_overwrite_starts_again(ip, sim, tmp_path):
    folder = tmp_path / "out"
    run(ip, f"--save {folder}/", "a cat")
    run(ip, f"--save {folder}/", "a dog")
    assert sorted(p.name for p in folder.iterdir()) == ["banana-1.png", "banana-2.png"]
    first = (folder / "banana-1.png").read_bytes()
    run(ip, f"--save {folder}/ --overwrite", "a fox")
    assert sorted(p.name for p in folder.iterdir()) == ["banana-1.png", "banana-2.png"]
    assert (folder / "banana-1.png").read_bytes() != first


# Notebook-wide defaults the model cannot honour -------------------------------------------


def notes_of(ip) -> tuple[str, ...]:
    return ip.user_ns["_banana"].all_notes


def test_a_size_default_the_model_lacks_is_dropped_with_a_note(ip, sim):
    ip.run_line_magic("config", 'Banana.size = "2K"')
    captured = run(ip, "", "a lighthouse")  # lite makes 1K only
    assert ip.user_ns["_banana"].request.size == "1K"
    note = "Banana.size = 2K is not available on gemini-3.1-flash-lite-image: using 1K."
    assert note in notes_of(ip) and note in shown(captured)
    run(ip, "-m pro", "a lighthouse")  # a model that has it still gets it
    assert calls(sim)[-1].body["generationConfig"]["imageConfig"]["imageSize"] == "2K"


def test_aspect_and_thinking_defaults_the_model_lacks_are_dropped(ip, sim):
    ip.run_line_magic("config", 'Banana.aspect = "8:1"')
    ip.run_line_magic("config", 'Banana.thinking = "high"')
    run(ip, "-m pro", "a banner")
    config = calls(sim)[-1].body["generationConfig"]
    assert config["imageConfig"]["aspectRatio"] == "1:1"
    assert "thinkingLevel" not in config.get("thinkingConfig", {})
    assert notes_of(ip)[:2] == (
        "Banana.aspect = 8:1 is not available on gemini-3-pro-image: using 1:1.",
        "Banana.thinking = high is not available on gemini-3-pro-image: using the model's "
        "own level.",
    )


def test_values_typed_in_the_cell_are_still_refused(ip, sim):
    ip.run_line_magic("config", 'Banana.size = "2K"')
    with pytest.raises(UsageError, match=r"does not take 2K images"):
        run(ip, "-s 2K", "a lighthouse")
    assert calls(sim) == []


def test_build_request_drops_only_the_defaults_it_is_told_of(monkeypatch):
    req = build_request(
        ["a cat"], model="lite", aspect="1:1", size="4K", defaults=frozenset({"size"})
    )
    assert req.size == "1K"
    assert req.notes == (
        "Banana.size = 4K is not available on gemini-3.1-flash-lite-image: using 1K.",
    )
    with pytest.raises(OptionError, match=r"does not take 4K images"):
        build_request(["a cat"], model="lite", aspect="1:1", size="4K")
    # A model without thinking (Nano Banana, before its shutdown) and Banana.thoughts = True.
    monkeypatch.setattr(models, "_today", lambda: models.date(2026, 6, 1))
    req = build_request(["a cat"], model="gemini-2.5-flash-image", aspect="1:1", size="1K",
                        thoughts=True, defaults=frozenset({"thoughts"}))  # fmt: skip
    assert req.thoughts is False
    assert req.notes == (
        "Banana.thoughts = True is not available on gemini-2.5-flash-image: using False.",
    )


# The model's text, once -------------------------------------------------------------------


def test_the_models_text_is_shown_once_in_plain_and_in_rich_front_ends(ip, sim):
    captured = run(ip, "", "a cat")
    text = ip.user_ns["_banana"].text
    assert text
    plain = "".join(o.data.get("text/plain", "") for o in captured.outputs)
    assert plain.count(text) == 1
    rich = "".join(
        o.data.get("text/markdown") or o.data.get("text/html") or o.data["text/plain"]
        for o in captured.outputs
    )
    assert rich.count(text) == 1


# %banana error ----------------------------------------------------------------------------


class Stubborn:
    """A notebook value that cannot be shown as text: an unexpected failure, not a user's."""

    def __str__(self) -> str:
        raise RuntimeError("this value refuses to be text")


def test_error_holds_the_traceback_of_an_unexpected_failure(ip, sim):
    ip.user_ns["odd"] = Stubborn()
    with pytest.raises(RuntimeError):
        run(ip, "", "a portrait of {odd}")
    report = line(ip, "error").stdout
    assert "Traceback" in report and "RuntimeError: this value refuses to be text" in report
    assert calls(sim) == []


# A string that names an image file --------------------------------------------------------


@pytest.fixture
def photo(tmp_path, monkeypatch) -> bytes:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (64, 48), "orange").save(tmp_path / "photos" / "cat.png")
    return (tmp_path / "photos" / "cat.png").read_bytes()


def test_a_string_naming_an_image_file_is_sent_as_that_image(ip, sim, photo):
    ip.user_ns["pic"] = "photos/cat.png"
    captured = run(ip, "", "draw {pic} as a lion")
    parts = calls(sim)[-1].body["contents"][-1]["parts"]
    assert parts[0] == {"text": "draw "} and parts[2] == {"text": " as a lion"}
    assert base64.urlsafe_b64decode(inline(parts[1])["data"]) == photo
    note = "`pic`: names the image file photos/cat.png, so it is sent as that image."
    assert note in notes_of(ip) and note in shown(captured)


def test_double_braces_and_paths_that_are_not_image_files_stay_text(ip, sim, photo):
    Path("notes.txt").write_text("not a picture")
    ip.user_ns["pic"] = "photos/cat.png"
    ip.user_ns["gone"] = "photos/dog.png"
    ip.user_ns["doc"] = "notes.txt"
    run(ip, "", "{{pic}} and {gone} and {doc}")
    parts = calls(sim)[-1].body["contents"][-1]["parts"]
    assert parts == [{"text": "{pic} and photos/dog.png and notes.txt"}]


# --dry-run and the store --------------------------------------------------------------------


def test_dry_run_says_when_the_store_would_answer(ip, sim):
    run(ip, "", "a lighthouse at dusk")
    sent = len(calls(sim))
    again = run(ip, "--dry-run", "a lighthouse at dusk")
    edited = run(ip, "--dry-run", "a lighthouse at dawn")
    assert len(calls(sim)) == sent
    assert "would be answered from the store (no cost)" in again.outputs[0].data["text/plain"]
    assert "estimated ~$" not in again.outputs[0].data["text/plain"]
    assert "estimated ~$" in edited.outputs[0].data["text/plain"]


# The panel's gallery ----------------------------------------------------------------------


@pytest.fixture
def panel(ip, sim):
    from nb_banana.faces.panel import Panel

    shown_panel = Panel(namespace=ip.user_ns)
    catalog.wait()
    sim.clear_requests()
    yield shown_panel
    shown_panel.close()
    shown_panel.wait(10)


def test_gallery_sends_previews_and_uses_originals_only_when_asked(panel, ip, sim, tmp_path):
    settings().preview_px = 256
    panel.form.prompt.value = "a lighthouse"
    panel.generate_button.click()
    panel.wait(20)
    result = ip.user_ns["_banana"]
    sent = panel.gallery.pictures[0].value
    assert sent == result.previews[0].data and len(sent) < len(result.outputs[0].data)
    assert max(Image.open(io.BytesIO(sent)).size) == 256
    card = panel.gallery.widget.children[0].children[1].children[0]
    path_text, save = card.children[2].children
    path_text.value = str(tmp_path / "full.png")
    save.click()
    assert Image.open(tmp_path / "full.png").size == (1024, 1024)
    name_text, copy = card.children[3].children
    name_text.value = "full"
    copy.click()
    assert ip.user_ns["full"].size == (1024, 1024)
