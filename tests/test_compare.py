"""Comparing models side by side (``-m lite,flash,pro``, ``nb_banana.compare``, the panel's
"Compare models"), through the real SDK against the simulator."""

from __future__ import annotations

import _thread
import base64
import io
import re
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

import nb_banana
from nb_banana.answer.comparison import Comparison
from nb_banana.context import session
from nb_banana.errors import OptionError
from nb_banana.faces.panel import Panel
from nb_banana.gemini import usage
from nb_banana.simulator.render import Scene, render_png

from .test_panel import NOW, inline, panel, png_bytes, sent_bytes  # noqa: F401 (a fixture)

LITE, FLASH, PRO = "gemini-3.1-flash-lite-image", "gemini-3.1-flash-image", "gemini-3-pro-image"


def run(ip, line: str, cell: str, cell_id: str | None = None):
    """``%%banana line`` + cell; with ``cell_id``, as the notebook cell Jupyter names so."""
    with capture_output() as captured:
        if cell_id is None:
            ip.run_cell_magic("banana", line, cell)
        else:
            outcome = ip.run_cell(f"%%banana {line}\n{cell}", cell_id=cell_id)
            if outcome.error_in_exec is not None:
                raise outcome.error_in_exec
    return captured


def html_of(captured) -> str:
    return "".join(o.data.get("text/html", "") for o in captured.outputs)


@dataclass
class Cell:
    """One cell of a comparison's grid: what it is, whose, where, and what it holds."""

    kind: str
    model: str
    column: int
    row: int
    text: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # of the elements inside


class GridCells(HTMLParser):
    """The comparison grid's cells, in the order the HTML gives them."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[Cell] = []
        self.depth = 0  # inside the current cell's div, counting nested divs
        self.grid_style = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        place = re.search(r"grid-column: (\d+); grid-row: (\d+)", found.get("style") or "")
        if "grid-template-columns" in (found.get("style") or ""):
            self.grid_style = found["style"]
        if tag == "div" and place and "data-model" in found:
            column, row = map(int, place.groups())
            self.cells.append(Cell(found["class"], found["data-model"], column, row))
            self.depth = 1
        elif self.depth:
            self.depth += tag == "div"
            self.cells[-1].classes += (found.get("class") or "").split()
            if tag == "img":
                self.cells[-1].images.append(found)

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "div":
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.cells[-1].text += data


def grid_of(shown: str) -> GridCells:
    parser = GridCells()
    parser.feed(shown)
    return parser


def posts(sim) -> list:
    return [r for r in sim.requests if r.method == "POST"]


def body_for(sim, model_id: str) -> dict:
    (request,) = [r for r in posts(sim) if r.model == model_id]
    return request.body


def image_config(body: dict) -> dict:
    return body["generationConfig"].get("imageConfig", {})


def test_three_models_are_asked_at_once_each_on_its_own_path(ip, sim):
    run(ip, "", "a warm-up, so the SDK is imported before the clock starts")
    sim.clear_requests()
    sim.latency = 1.0
    start = time.perf_counter()
    run(ip, "-m lite,flash,pro", "a lighthouse at dawn")
    wall = time.perf_counter() - start
    # One after another would take three latencies; in flight together, about one.
    assert wall < 2.2, f"three 1 s calls took {wall:.2f} s: they did not overlap"
    sent = posts(sim)
    assert sorted(r.model for r in sent) == sorted([LITE, FLASH, PRO])
    assert all(r.path.split("?")[0].endswith(f"/models/{r.model}:generateContent") for r in sent)


def test_an_interrupt_stops_every_row_at_once_and_keeps_no_chat(ip, sim):
    run(ip, "", "a warm-up")
    sim.clear_requests()
    sim.latency = 5.0

    def interrupt_when_all_three_are_out() -> None:
        deadline = time.monotonic() + 4  # one call after another could not be here by then
        while len(posts(sim)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        _thread.interrupt_main()

    interrupter = threading.Thread(target=interrupt_when_all_three_are_out)
    start = time.perf_counter()
    interrupter.start()
    with pytest.raises(UsageError, match=r"^Cancelled"):
        run(ip, "-m lite,flash,pro", "a slow fox")
    interrupter.join()
    assert len(posts(sim)) == 3 and time.perf_counter() - start < 4
    assert list(session().chats.chats) == ["chat1"]
    sim.latency = 0.0
    run(ip, "-m lite,pro", "a quick fox")
    assert list(session().chats.chats) == ["chat1", "chat2-lite", "chat2-pro"]


def test_rows_come_in_the_order_asked_each_captioned_with_its_model_time_tokens_cost(ip, sim):
    captured = run(ip, "-m pro,lite,flash -o compared", "a red fox")
    compared = ip.user_ns["compared"]
    assert list(compared) == [PRO, LITE, FLASH]
    shown = html_of(captured)
    captions = [shown.index(f"🍌 {model} ·") for model in (PRO, LITE, FLASH)]
    assert captions == sorted(captions)
    for model in (PRO, LITE, FLASH):
        result = compared[model]
        assert result.request.model.id == model and result.usage.total_tokens > 0
        cost = usage.cost(result.request.model, result.usage, 1, result.request.size)
        assert result.cost == pytest.approx(cost)
        line = re.search(rf"🍌 {re.escape(model)} · [^<]*", shown)[0]
        assert re.search(r" · \d+\.\d s · ", line), line
        assert f"{result.usage.total_tokens:,} tokens" in line
        assert f"~{usage.format_usd(result.cost)}" in line
    assert compared[PRO].cost > compared[FLASH].cost > compared[LITE].cost
    assert compared.cost == pytest.approx(sum(r.cost for r in compared.values()))
    plain = captured.outputs[0].data["text/plain"]
    assert plain.index("Nano Banana Pro:") < plain.index("Nano Banana 2 Lite:")
    meta = captured.outputs[0].metadata["nb_banana"]["comparison"]
    assert [row["model"] for row in meta] == [PRO, LITE, FLASH]


def test_models_stand_side_by_side_a_column_each_in_the_order_asked(ip, sim):
    captured = run(ip, "-m lite,flash,pro -o compared", "a red fox")
    compared = ip.user_ns["compared"]
    grid = grid_of(html_of(captured))
    assert "grid-template-columns: repeat(3, minmax(0, 1fr))" in grid.grid_style
    assert "width: 100%" in grid.grid_style  # three fill the width: a third each
    heads = [c for c in grid.cells if c.kind == "nb-banana-model"]
    assert [(c.model, c.column, c.row) for c in heads] == [(LITE, 1, 1), (FLASH, 2, 1), (PRO, 3, 1)]
    assert [c.text for c in heads] == [m.name for m in (r.model for r in compared.rows)]
    for column, model in enumerate((LITE, FLASH, PRO), start=1):
        mine = {c.kind: c for c in grid.cells if c.model == model}
        assert {c.column for c in mine.values()} == {column}  # one column, one model
        assert mine["nb-banana-take"].row == 2 and mine["nb-banana-below"].row == 3
        (picture,) = mine["nb-banana-take"].images
        preview = compared[model].previews[0]
        assert picture["src"].endswith(base64.b64encode(preview.data).decode())
        # Opens at full size on click: the picture toggles itself over the page.
        assert "nb-banana-zoom" in picture["class"] and "toggle" in picture["onclick"]
        result = compared[model]
        below = mine["nb-banana-below"].text
        assert f"🍌 {model} ·" in below and f"{result.elapsed:.1f} s" in below
        assert f"~{usage.format_usd(result.cost)}" in below
        assert f"{result.usage.total_tokens:,} tokens" in below
    plain = captured.outputs[0].data["text/plain"]
    starts = [
        plain.index(f"{row.model.name}: [1 image(s)] {row.model.id}") for row in compared.rows
    ]
    assert starts == sorted(starts) and plain.splitlines()[-1].startswith("3 models compared")


def test_two_models_keep_a_third_of_the_width_each(ip, sim):
    grid = grid_of(html_of(run(ip, "-m lite,pro", "a pear")))
    assert "repeat(2, minmax(0, 1fr))" in grid.grid_style and "width: 66.67%" in grid.grid_style


def test_n_2_makes_a_row_per_take_under_each_models_column(ip, sim):
    captured = run(ip, "-m lite,pro -n 2 -o compared", "two pears")
    compared = ip.user_ns["compared"]
    grid = grid_of(html_of(captured))
    takes = [(c.model, c.column, c.row) for c in grid.cells if c.kind == "nb-banana-take"]
    assert takes == [(LITE, 1, 2), (LITE, 1, 3), (PRO, 2, 2), (PRO, 2, 3)]
    for model in (LITE, PRO):
        mine = [c for c in grid.cells if c.model == model and c.kind == "nb-banana-take"]
        sources = [c.images[0]["src"] for c in mine]
        wanted = [base64.b64encode(p.data).decode() for p in compared[model].previews]
        assert [s.split(",", 1)[1] for s in sources] == wanted  # take 1 above take 2
    below = [(c.model, c.column, c.row) for c in grid.cells if c.kind == "nb-banana-below"]
    assert below == [(LITE, 1, 4), (PRO, 2, 4)]


def test_thoughts_fold_under_their_own_models_column(ip, sim):
    captured = run(ip, "-m flash,pro --thoughts -o compared", "a clock tower")
    compared = ip.user_ns["compared"]
    below = {
        c.model: c.text for c in grid_of(html_of(captured)).cells if c.kind == "nb-banana-below"
    }
    for model in (FLASH, PRO):
        assert compared[model].thoughts and f"Thoughts{compared[model].thoughts}" in below[model]


def test_a_size_only_some_models_make_is_dropped_on_the_others_rows_with_a_note(ip, sim):
    captured = run(ip, "-m lite,flash -s 2K -o compared", "a tall ship")
    compared = ip.user_ns["compared"]
    note = f"-s 2K is not available on {LITE}: using 1K."
    assert compared[LITE].request.size == "1K" and note in compared[LITE].all_notes
    assert compared[FLASH].request.size == "2K" and not compared[FLASH].all_notes
    assert "imageSize" not in image_config(body_for(sim, LITE))
    assert image_config(body_for(sim, FLASH))["imageSize"] == "2K"
    shown = html_of(captured)
    notes = [(c.model, c.column) for c in grid_of(shown).cells if "nb-banana-note" in c.classes]
    assert notes == [(LITE, 1)]  # under lite's column, not flash's
    (lite_below,) = [
        c for c in grid_of(shown).cells if c.kind == "nb-banana-below" and c.column == 1
    ]
    assert f"ℹ {note}" in lite_below.text


def test_search_and_a_wide_ratio_give_way_only_where_the_model_lacks_them(ip, sim):
    run(ip, "-m lite,pro -a 8:1 --search -o compared", "a banner of today's headlines")
    compared = ip.user_ns["compared"]
    assert f"--search web is not available on {LITE}: using no search." in (
        compared[LITE].all_notes
    )
    assert "tools" not in body_for(sim, LITE)
    assert image_config(body_for(sim, LITE))["aspectRatio"] == "8:1"
    assert body_for(sim, PRO)["tools"] == [{"googleSearch": {}}]
    assert image_config(body_for(sim, PRO))["aspectRatio"] == "1:1"
    assert f"-a 8:1 is not available on {PRO}: using 1:1." in compared[PRO].all_notes


@pytest.mark.parametrize(
    ("line", "refusal"),
    [
        ("-m lite,pro -s 512", rf"None of {LITE}, {PRO} takes -s 512; for it use -m flash\."),
        ("-m lite,pro --search image", r"takes --search image; for it use -m flash\."),
        ("-m lite,pro -c", r"^A chat has one model, so -c does not go with a list of models"),
        ("-m lite,pro -c chat1", r"^A chat has one model"),
        ("-m flash,flash2", r"names gemini-3\.1-flash-image twice \(flash and flash2\)"),
        ("-m lite,", r"has an empty name"),
        ("-m lite,turbo", r"Unknown model 'turbo'"),
        ("-m lite,pro --save out.png", r"^--save takes one model's pictures"),
    ],
)
def test_what_no_row_can_take_is_refused_in_one_line_before_any_call(ip, sim, line, refusal):
    with pytest.raises(UsageError, match=refusal) as refused:
        run(ip, line, "a fox")
    assert "\n" not in str(refused.value)
    assert posts(sim) == [] and session().chats.chats == {}


def test_re_running_a_comparison_cell_makes_no_call_and_no_new_chat(ip, sim):
    run(ip, "-m lite,pro", "a paper crane", cell_id="compare-1")
    assert len(posts(sim)) == 2
    run(ip, "-m lite,pro", "a paper crane", cell_id="compare-1")
    assert len(posts(sim)) == 2
    again = ip.user_ns["_banana"]
    assert all(result.cached for result in again.values())
    assert list(session().chats.chats) == ["chat1-lite", "chat1-pro"]


def test_re_running_without_a_cell_id_is_known_by_each_rows_request(ip, sim):
    run(ip, "-m lite,pro", "a paper crane")
    run(ip, "-m lite,pro", "a paper crane")
    assert len(posts(sim)) == 2
    assert list(session().chats.chats) == ["chat1-lite", "chat1-pro"]


def test_each_row_starts_a_chat_on_its_model_which_c_carries_on(ip, sim):
    run(ip, "-m lite,pro", "a lighthouse")
    book = session().chats
    assert {name: chat.model_id for name, chat in book.chats.items()} == {
        "chat1-lite": LITE,
        "chat1-pro": PRO,
    }
    assert book.current == "chat1-pro"  # the last row, in the order asked
    lite_picture = ip.user_ns["_banana"][LITE].outputs[0].data
    run(ip, "-c chat1-lite", "now at night")
    last = posts(sim)[-1]
    assert last.model == LITE
    assert [c["role"] for c in last.body["contents"]] == ["user", "model", "user"]
    history = [sent_bytes(p) for p in last.body["contents"][1]["parts"] if inline(p)]
    assert history == [lite_picture]


def test_n_gives_that_many_pictures_per_model(ip, sim):
    run(ip, "-m lite,pro -n 2", "two pears")
    compared = ip.user_ns["_banana"]
    assert len(posts(sim)) == 4
    assert [len(result.outputs) for result in compared.values()] == [2, 2]


def test_o_binds_a_mapping_from_model_to_result_with_a_repr_of_the_whole(ip, sim):
    run(ip, "-m lite,pro -o compared", "a lemon")
    compared = ip.user_ns["compared"]
    assert isinstance(compared, Comparison) and ip.user_ns["_banana"] is compared
    assert dict(compared) == {LITE: compared["lite"], PRO: compared["pro"]}
    assert compared["pro"] is compared[PRO] and "flash" not in compared
    assert re.fullmatch(
        rf"<nb_banana.Comparison {LITE}: 1 image\(s\), \d+\.\d s; {PRO}: 1 image\(s\), "
        r"\d+\.\d s; ~\$0\.\d{3} in all>",
        repr(compared),
    )
    data, _ = compared._repr_mimebundle_()
    assert data["text/html"].count('class="nb-banana-model"') == 2
    assert "2 models compared" in data["text/plain"]


def test_a_row_whose_model_fails_shows_its_line_and_the_others_their_pictures(ip, sim):
    captured = run(ip, "-m lite,gemini-9-ultra-image -o compared", "a cat")
    compared = ip.user_ns["compared"]
    assert list(compared) == [LITE]
    assert "does not serve gemini-9-ultra-image" in str(compared.failed["gemini-9-ultra-image"])
    cells = grid_of(html_of(captured)).cells
    (failed,) = [c for c in cells if c.kind == "nb-banana-failed"]
    assert (failed.model, failed.column, failed.row) == ("gemini-9-ultra-image", 2, 2)
    assert failed.text.startswith("✖ gemini-9-ultra-image: The API does not serve")
    assert [c.column for c in cells if c.kind == "nb-banana-take"] == [1]
    assert list(session().chats.chats) == ["chat1-lite"]


def test_the_budget_counts_a_comparisons_rows_together(ip, sim):
    ip.run_line_magic("config", "Banana.budget_usd = 0.2")  # each row alone is under it
    with pytest.raises(UsageError, match=r"over Banana\.budget_usd = \$0\.200"):
        run(ip, "-m lite,flash,pro", "a lighthouse")
    assert posts(sim) == [] and session().chats.chats == {}
    run(ip, "-m lite,flash", "a lighthouse")
    assert len(posts(sim)) == 2


def test_dry_run_shows_each_models_request_and_estimate_and_sends_nothing(ip, sim):
    captured = run(ip, "-m lite,pro -s 2K --dry-run", "a poster")
    summaries = [o.data["text/plain"].splitlines()[0] for o in captured.outputs]
    assert [re.search(r"models/([\w.-]+):generateContent", s)[1] for s in summaries] == [LITE, PRO]
    assert all("estimated ~$" in s for s in summaries)
    assert (
        f"note: -s 2K is not available on {LITE}: using 1K."
        in captured.outputs[0].data["text/plain"]
    )
    assert posts(sim) == [] and session().chats.chats == {}


def test_the_python_form_returns_the_comparison_and_starts_no_chat(ip, sim):
    compared = nb_banana.compare("a fox in", png_bytes(), models=["pro", "lite"], size="4K")
    assert isinstance(compared, Comparison) and list(compared) == [PRO, LITE]
    assert compared[PRO].request.size == "4K" and compared[LITE].request.size == "1K"
    assert all(result.chat is None for result in compared.values())
    assert session().chats.chats == {}
    again = nb_banana.compare("a fox in", png_bytes(), models="pro,lite", size="4K")
    assert len(posts(sim)) == 2 and all(r.cached for r in again.values())
    with pytest.raises(OptionError, match="two models or more"):
        nb_banana.compare("a fox", models=["pro"])


def test_the_simulator_names_the_model_on_each_picture(ip, sim):
    compared = nb_banana.compare("the same prompt", models="lite,pro")
    lite, pro = (Image.open(io.BytesIO(compared[m].outputs[0].data)) for m in (LITE, PRO))
    assert lite.size == pro.size == (1024, 1024)

    # The same prompt draws the same picture; only the top-left tab (the model's name) and
    # the label along the bottom (the model's id) differ. Pro answers in JPEG, so its pixels
    # match Lite's PNG only up to compression noise.
    def difference(box: tuple[int, int, int, int]) -> float:
        return float(np.abs(_pixels(lite.crop(box)) - _pixels(pro.crop(box))).mean())

    assert difference((0, 240, 1024, 900)) < 2
    assert difference((0, 90, 600, 200)) > 5
    named = render_png(Scene(512, 512, "x", f"{PRO} · 1:1 · 1K · turn 1"))
    unnamed = render_png(Scene(512, 512, "x", ""))
    assert named != unnamed


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64)


# The panel: "Compare models" in the form, the rows in the gallery, and "Continue from"
# carrying on a row's own chat.


def compare_in(shown: Panel, prompt: str, *models: str) -> None:
    shown.form.compare.value = True
    shown.form.compared.value = models
    shown.form.prompt.value = prompt
    shown.generate_button.click()
    shown.wait(20)


def test_the_panel_compares_the_ticked_models_and_shows_a_row_each(panel, ip, sim):  # noqa: F811
    reference = png_bytes()
    panel.references.upload.value = (
        {"name": "cat.png", "type": "image/png", "size": len(reference),
         "content": memoryview(reference), "last_modified": NOW},
    )  # fmt: skip
    panel.wait(10)
    assert panel.form.model.disabled is False
    compare_in(panel, "a hat for", PRO, LITE)
    assert panel.form.model.disabled and "512" not in panel.form.size.options  # pro or lite
    compared = ip.user_ns["_banana"]
    # The rows in the table's order (lite, then pro), the first on top.
    assert list(compared) == [LITE, PRO]
    assert [r.request.model.id for r in panel.gallery.results[:2]] == [LITE, PRO]
    # The browser gets each row's previews, byte for byte; each call sent the reference.
    rows = [compared[LITE], compared[PRO]]
    assert [p.value for p in panel.gallery.pictures[:2]] == [r.previews[0].data for r in rows]
    for model in (LITE, PRO):
        parts = body_for(sim, model)["contents"][-1]["parts"]
        assert [sent_bytes(p) for p in parts if inline(p)] == [reference]
    assert panel.message.startswith("Done: 2 models compared")


def test_continue_from_a_rows_picture_carries_on_that_models_chat(panel, ip, sim):  # noqa: F811
    compare_in(panel, "a kite", LITE, FLASH, PRO)
    flash_picture = ip.user_ns["_banana"][FLASH].outputs[0].data
    card = panel.gallery.widget.children[1].children[1].children[0]  # flash's row, its picture
    card.children[4].children[1].click()
    panel.wait(10)
    assert panel.form.model.value == FLASH and not panel.form.compare.value
    panel.form.prompt.value = "make it fly higher"
    panel.continue_button.click()
    panel.wait(20)
    last = posts(sim)[-1]
    assert last.model == FLASH
    model_turn = last.body["contents"][1]
    assert [sent_bytes(p) for p in model_turn["parts"] if inline(p)] == [flash_picture]
    assert [t.prompt for t in session().chats.get("chat1-flash").turns] == [
        "a kite",
        "make it fly higher",
    ]


def test_continue_while_comparing_is_refused_in_one_line(panel, sim):  # noqa: F811
    panel.form.compare.value = True
    panel.form.prompt.value = "more"
    panel.continue_button.click()
    panel.wait(10)
    assert panel.message.startswith("A chat has one model") and "\n" not in panel.message
    assert posts(sim) == []


def test_comparing_fewer_than_two_models_is_refused_in_one_line(panel, sim):  # noqa: F811
    compare_in(panel, "a fox", PRO)
    assert panel.message == f"A comparison needs two models or more, e.g. lite,pro (not {PRO})."
    assert posts(sim) == [] and panel.gallery.pictures == []


def test_a_comparison_as_a_reference_is_refused_with_the_way_to_pick_a_row(ip, sim):
    run(ip, "-m lite,pro -o trio", "a lighthouse")
    sent = len(sim.requests)
    with pytest.raises(UsageError, match=r"\{trio\} holds a comparison of 2 models.*pick = trio\["):
        run(ip, "", "make it night {trio}")
    assert len(sim.requests) == sent
    ip.user_ns["pick"] = ip.user_ns["trio"]["pro"]
    run(ip, "", "make it night {pick}")
    parts = posts(sim)[-1].body["contents"][-1]["parts"]
    assert any("inlineData" in part for part in parts)  # the row's picture went as an image
