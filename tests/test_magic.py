"""``%%banana`` end to end: a real IPython shell, the real SDK, the simulator on loopback."""

from __future__ import annotations

import base64
import html
import io
import os
import sys

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from nb_banana.context import session
from nb_banana.faces.magics import BananaMagics

from .cells import run


def last_body(sim) -> dict:
    return sim.requests[-1].body


def user_parts(body: dict) -> list[dict]:
    return body["contents"][-1]["parts"]


def inline(part: dict) -> dict | None:
    return part.get("inlineData") or part.get("inline_data")


def html_of(captured) -> str:
    return "".join(o.data.get("text/html", "") for o in captured.outputs)


def test_text_to_image_displays_an_image_and_binds_banana(ip, sim):
    captured = run(ip, "", "a lighthouse at dawn")
    result = ip.user_ns["_banana"]
    assert result.image.size == (1024, 1024)
    assert 'src="data:image/png;base64,' in html_of(captured)
    assert "gemini-3.1-flash-lite-image" in html_of(captured)
    meta = captured.outputs[0].metadata["nb_banana"]
    assert (
        meta["model"] == "gemini-3.1-flash-lite-image" and meta["prompt"] == "a lighthouse at dawn"
    )
    assert user_parts(last_body(sim)) == [{"text": "a lighthouse at dawn"}]


def test_plain_text_fallback_names_model_and_count(ip, sim):
    captured = run(ip, "-n 2", "two pears")
    assert "[2 image(s)]" in captured.outputs[0].data["text/plain"]


def test_pro_alias_sends_the_pro_model_id(ip, sim):
    run(ip, "-m pro", "a cat")
    assert sim.requests[-1].model == "gemini-3-pro-image"


def test_unknown_gemini_id_passes_through_unchanged(ip, sim):
    with pytest.raises(UsageError, match=r"does not serve gemini-9-ultra-image .*%banana models"):
        run(ip, "-m gemini-9-ultra-image", "a cat")
    assert sim.requests[-1].model == "gemini-9-ultra-image"


def test_aspect_ratio_is_sent_and_honoured(ip, sim):
    run(ip, "-a 16:9", "a wide valley")
    body = last_body(sim)
    assert body["generationConfig"]["imageConfig"]["aspectRatio"] == "16:9"
    assert ip.user_ns["_banana"].image.size == (1376, 768)


def test_lowercase_size_is_sent_upper_case(ip, sim):
    run(ip, "-m pro -s 2k", "a poster")
    assert last_body(sim)["generationConfig"]["imageConfig"]["imageSize"] == "2K"
    assert ip.user_ns["_banana"].image.size == (2048, 2048)


def test_a_default_cell_leaves_shape_and_size_to_the_model(ip, sim):
    run(ip, "", "a cat")
    assert "imageConfig" not in last_body(sim)["generationConfig"]


def test_count_makes_that_many_calls_and_images(ip, sim):
    run(ip, "-n 3", "a teapot")
    assert len(sim.requests) == 3
    images = ip.user_ns["_banana"].images
    assert len({image.tobytes() for image in images}) == 3  # three takes, not one thrice


def test_out_binds_the_result_to_a_name(ip, sim):
    run(ip, "-o poster", "a poster")
    assert ip.user_ns["poster"] is ip.user_ns["_banana"]


def test_image_option_attaches_a_variable_after_the_text(ip, sim):
    ip.user_ns["photo"] = Image.new("RGB", (64, 48), "red")
    run(ip, "-i photo", "make it blue")
    parts = user_parts(last_body(sim))
    assert parts[0] == {"text": "make it blue"}
    blob = inline(parts[1])
    sent = Image.open(io.BytesIO(base64.urlsafe_b64decode(blob["data"])))
    assert sent.size == (64, 48)


def test_references_become_parts_in_prompt_order(ip, sim):
    ip.user_ns["arr"] = np.zeros((32, 32, 3), dtype=np.uint8)
    ip.user_ns["pic"] = Image.new("RGB", (16, 16), "white")
    ip.user_ns["style"] = "watercolour"
    run(ip, "-m pro", "put {arr} next to {pic} in {style}")
    parts = user_parts(last_body(sim))
    assert parts[0] == {"text": "put "}
    assert inline(parts[1]) and inline(parts[3])
    assert parts[2] == {"text": " next to "}
    assert parts[4] == {"text": " in watercolour"}
    # The simulator reads the parts in order, as the model does, and says what it saw.
    assert "“put [image 1] next to [image 2] in watercolour”" in ip.user_ns["_banana"].text


def test_double_braces_reach_the_wire_as_single_braces(ip, sim):
    run(ip, "", 'a sign that reads {{name}} and {"json": true}')
    assert user_parts(last_body(sim)) == [{"text": 'a sign that reads {name} and {"json": true}'}]


def test_non_latin_text_and_emoji_arrive_intact(ip, sim):
    run(ip, "", "富士山と🍌 — «Überraschung»")
    assert user_parts(last_body(sim)) == [{"text": "富士山と🍌 — «Überraschung»"}]


def test_line_magic_takes_options_then_a_free_prompt(ip, sim):
    with capture_output():
        ip.run_line_magic("banana", "-a 3:2 a cat's hat")
    body = last_body(sim)
    assert user_parts(body) == [{"text": "a cat's hat"}]
    assert body["generationConfig"]["imageConfig"]["aspectRatio"] == "3:2"


def test_save_writes_one_file(ip, sim, tmp_path):
    target = tmp_path / "out.png"
    run(ip, f"--save {target}", "a cat")
    assert Image.open(target).size == (1024, 1024)


def test_save_converts_to_the_extension_asked_for(ip, sim, tmp_path):
    target = tmp_path / "out.jpg"
    run(ip, f"--save {target}", "a cat")
    assert Image.open(target).format == "JPEG"


def test_save_puts_several_images_in_a_folder(ip, sim, tmp_path):
    run(ip, f"-n 2 --save {tmp_path / 'set'}", "a cat")
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["banana-1.png", "banana-2.png"]


def test_save_never_overwrites_without_the_flag(ip, sim, tmp_path):
    target = tmp_path / "keep.png"
    target.write_bytes(b"precious")
    with pytest.raises(UsageError, match=r"already exists.*--overwrite"):
        run(ip, f"--save {target}", "a cat")
    assert target.read_bytes() == b"precious"
    run(ip, f"--save {target} --overwrite", "a cat")
    assert target.read_bytes() != b"precious"


def test_search_on_pro_sends_the_google_search_tool(ip, sim):
    run(ip, "-m pro --search", "today's weather in Paris as a poster")
    tools = last_body(sim)["tools"]
    assert any("googleSearch" in t or "google_search" in t for t in tools)


def test_search_shows_the_sources_and_google_search_chips_and_keeps_them_cached(ip, sim):
    captured = run(ip, "-m pro --search", "today's weather in Paris as a poster")
    result = ip.user_ns["_banana"]
    assert [s.uri for s in result.sources] == [
        f"https://example.com/nb-banana-simulator/source-{i}" for i in (1, 2, 3)
    ]
    shown = html_of(captured)
    assert '🔎 Sources: <a href="https://example.com/nb-banana-simulator/source-1"' in shown
    # The API's searchEntryPoint.renderedContent is shown as received, as Google's terms
    # ask, in a sandboxed frame so that its CSS cannot restyle the notebook.
    frame = shown[shown.index('<iframe class="nb-banana-search-suggestions"') :]
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame
    page = html.unescape(frame.split('srcdoc="', 1)[1].split('"></iframe>', 1)[0])
    assert page.startswith('<base target="_blank"><div class="container"')
    assert "google.com/search?q=today%27s+weather+in+Paris+as+a+poster" in page
    assert (
        "sources: example.com (simulated source 1) <https://"
        in captured.outputs[0].data["text/plain"]
    )
    assert captured.outputs[0].metadata["nb_banana"]["sources"][0]["title"].startswith("example")
    assert result.provenance()["sources"][0]["uri"].endswith("/source-1")  # saved with files
    again = run(ip, "-m pro --search", "today's weather in Paris as a poster")
    assert ip.user_ns["_banana"].cached and ip.user_ns["_banana"].sources == result.sources
    assert "nb-banana-search-suggestions" in html_of(again)


def test_a_reply_without_search_shows_no_sources(ip, sim):
    captured = run(ip, "-m pro", "a poster")
    assert ip.user_ns["_banana"].sources == []
    assert "Sources" not in html_of(captured) and "search-suggestions" not in html_of(captured)


def test_thoughts_are_requested_and_shown(ip, sim):
    captured = run(ip, "-m pro --thoughts", "a clock tower")
    config = last_body(sim)["generationConfig"]
    thinking = config["thinkingConfig"]
    assert (thinking.get("includeThoughts") or thinking.get("include_thoughts")) is True
    assert ip.user_ns["_banana"].thoughts
    assert "<summary>Thoughts and 2 draft(s)</summary>" in html_of(captured)
    assert sim.requests[-1].path.split("?")[0].endswith(":streamGenerateContent")


def test_model_text_is_shown_as_markdown(ip, sim):
    captured = run(ip, "", "a cat")
    markdown = [o.data["text/markdown"] for o in captured.outputs if "text/markdown" in o.data]
    assert markdown == [ip.user_ns["_banana"].text]


def test_settings_give_the_defaults(ip, sim):
    ip.run_line_magic("config", 'Banana.aspect = "9:16"')
    ip.run_line_magic("config", 'Banana.model = "pro"')
    run(ip, "", "a tall tower")
    assert sim.requests[-1].model == "gemini-3-pro-image"
    assert last_body(sim)["generationConfig"]["imageConfig"]["aspectRatio"] == "9:16"


def test_help_is_generated_from_the_arguments():
    doc = BananaMagics.banana.__doc__
    for flag in ("--model", "--aspect", "--size", "--count", "--image", "--dry-run", "--chat"):
        assert flag in doc


def test_dry_run_sends_nothing_and_needs_no_key(ip, sim, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    ip.user_ns["pic"] = Image.new("RGB", (16, 16), "white")
    captured = run(ip, "--dry-run -m pro -n 2", "edit {pic}")
    assert sim.requests == []
    text = captured.outputs[0].data["text/plain"]
    assert "gemini-3-pro-image" in text and "× 2" in text and "estimated ~$" in text
    assert "data:image/png;base64" in captured.outputs[0].data["text/html"]


def test_follow_up_sends_the_history_with_its_signatures(ip, sim):
    run(ip, "-m pro", "a house")
    first_reply = ip.user_ns["_banana"].replies[0].content
    run(ip, "-c", "now make it winter")
    contents = last_body(sim)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    sent = contents[1]["parts"]
    received = [p for p in first_reply.parts]
    signed = [p for p in sent if p.get("thoughtSignature") or p.get("thought_signature")]
    assert len(signed) == sum(1 for p in received if p.thought_signature)
    assert len(signed) >= 1
    assert sim.requests[-1].model == "gemini-3-pro-image"


def test_plain_cell_starts_a_new_chat(ip, sim):
    run(ip, "", "a house")
    run(ip, "-c", "add a tree")
    run(ip, "", "a boat")
    assert [c["role"] for c in last_body(sim)["contents"]] == ["user"]
    chats = session().chats
    assert chats.current_chat().turns[0].prompt == "a boat"


def test_failed_follow_up_leaves_the_history_unchanged(ip, sim):
    from nb_banana.simulator import Fault

    run(ip, "-m pro", "a house")
    before = list(session().chats.current_chat().turns)
    sim.inject(Fault.finish("IMAGE_SAFETY"))
    with pytest.raises(UsageError):
        run(ip, "-c", "make it scary")
    assert session().chats.current_chat().turns == before
    run(ip, "-c", "add a garden")
    assert len(last_body(sim)["contents"]) == 3


def test_switching_model_mid_chat_is_refused(ip, sim):
    run(ip, "-m pro", "a house")
    with pytest.raises(UsageError, match="thought signatures are model-specific"):
        run(ip, "-c -m lite", "make it red")


def test_interrupt_cancels_the_call_and_the_next_cell_works(ip, sim, monkeypatch):
    from nb_banana.gemini import engine
    from nb_banana.simulator import Fault

    real_wait = engine.Engine.wait

    def interrupting_wait(self, future, on_tick=None, tick=0.5):
        def tick_then_interrupt(seconds):
            raise KeyboardInterrupt

        return real_wait(self, future, tick_then_interrupt, tick=0.05)

    run(ip, "-m pro", "a house")
    before = list(session().chats.current_chat().turns)
    sim.inject(Fault.slow(5))
    monkeypatch.setattr(engine.Engine, "wait", interrupting_wait)
    with pytest.raises(UsageError, match="Cancelled"):
        run(ip, "-c", "make it red")
    monkeypatch.setattr(engine.Engine, "wait", real_wait)
    assert session().chats.current_chat().turns == before
    run(ip, "-c", "make it green")
    assert ip.user_ns["_banana"].request.text == "make it green"


def test_offline_needs_no_key(shell, sim, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    with capture_output() as captured:
        shell.run_line_magic("banana", "offline")
    assert "simulator" in captured.stdout
    run(shell, "", "a cat")
    assert shell.user_ns["_banana"].simulated


def test_offline_if_no_key_stays_online_when_a_key_is_set(shell, sim):
    with capture_output() as captured:
        shell.run_line_magic("banana", "offline --if-no-key")
    assert "Using Gemini" in captured.stdout


def test_key_command_keeps_the_key_in_memory(shell, sim, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "typed-key-abcdef123456")
    with capture_output() as captured:
        shell.run_line_magic("banana", "key")
    assert "typed-key" not in captured.stdout
    run(shell, "", "a cat")
    assert sim.requests[-1].headers["x-goog-api-key"] == "<redacted>"
    assert "typed-key-abcdef123456" not in os.environ.values()


def test_loading_the_extension_does_not_import_the_sdk():
    import subprocess

    code = (
        "from IPython.testing.globalipapp import start_ipython; import sys;"
        "ip = start_ipython(); ip.run_line_magic('load_ext', 'nb_banana');"
        "print('google.genai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
