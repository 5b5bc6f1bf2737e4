"""Widgets in a notebook read without a kernel: exported HTML, ``jupyter nbconvert``,
GitHub, nbviewer. A notebook saved from JupyterLab keeps no widget state (its "save widget
state" setting is off by default), so a reader can only show what sits beside the widget
view in the output: the mark-up's still of its marked picture, and the panel's still of its
gallery. A notebook is run headless (nbclient, as a front end that saves no state) and
exported with nbconvert, as a user would."""

from __future__ import annotations

import base64
import io
import os
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from PIL import Image
from traitlets.config import Config

from .conftest import TEST_KEY

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BLUE = (30, 90, 160)
RECT = {"kind": "rect", "color": "red", "points": [[40, 40], [200, 160]]}


class Pictures(HTMLParser):
    """Every ``<img>`` in the page with the ``class`` of the ``div`` it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []
        self.found: list[tuple[str, str]] = []  # (enclosing classes, src)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag == "div":
            self.classes.append(found.get("class") or "")
        elif tag == "img":
            self.found.append((" ".join(self.classes), found.get("src") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.classes:
            self.classes.pop()

    def inside(self, kind: str) -> list[Image.Image]:
        return [
            Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
            for classes, src in self.found
            if kind in classes.split()
        ]


def executed(cells: list[str], tmp_path: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / ".ipython"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    with tempfile.TemporaryDirectory() as sockets:
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = os.path.join(sockets, "kernel")
        NotebookClient(
            nb, config=config, timeout=120, kernel_name="python3", store_widget_state=False,
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()  # fmt: skip
    return nb


def set_up(sim, tmp_path: Path) -> str:
    return (f"%load_ext nb_banana\n%config Banana.base_url = {sim.url!r}\n"
            f"%config Banana.store = {str(tmp_path / 'store')!r}\nimport nb_banana")  # fmt: skip


def test_a_mark_up_shows_its_marked_picture_in_exported_html(sim, tmp_path, monkeypatch):
    nb = executed(
        [set_up(sim, tmp_path),
         f"from PIL import Image\nphoto = Image.new('RGB', (400, 300), {BLUE})\n"
         f"marked = nb_banana.markup(photo, [{RECT!r}])\nmarked"],
        tmp_path, monkeypatch,
    )  # fmt: skip
    (output,) = nb.cells[1].outputs
    # A live front end still finds the widget view (it ranks it first), the still beside it.
    assert WIDGET_VIEW in output.data and "text/html" in output.data
    page, _ = HTMLExporter().from_notebook_node(nb)
    assert "A mark-up of a 400×300 picture, 1 mark drawn" in page
    pictures = Pictures()
    pictures.feed(page)
    (still,) = pictures.inside("nb-banana-markup-still")
    assert still.size == (400, 300)
    pixels = np.asarray(still.convert("RGB"), dtype=int)
    # The rectangle is drawn in red round (40, 40)–(200, 160); the rest is the photo's blue.
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    rows, columns = np.nonzero(red)
    assert abs(rows.min() - 40) <= 6 and abs(rows.max() - 160) <= 6
    assert abs(columns.min() - 40) <= 6 and abs(columns.max() - 200) <= 6
    for row, column in [(100, 120), (250, 350)]:
        assert np.abs(pixels[row, column] - BLUE).max() < 20


def test_the_panel_leaves_a_still_of_its_gallery_in_exported_html(sim, tmp_path, monkeypatch):
    nb = executed(
        [set_up(sim, tmp_path),
         "p = nb_banana.panel()\np.form.prompt.value = 'a red kite'\n"
         "p.generate_button.click()\np.wait(60)"],
        tmp_path, monkeypatch,
    )  # fmt: skip
    panel_view, still = nb.cells[1].outputs
    assert WIDGET_VIEW in panel_view.data and panel_view.data["text/plain"].startswith(
        "<nb_banana panel:"
    )
    # The still was replaced in place once the result came: the saved output holds it.
    assert WIDGET_VIEW in still.data
    assert "1 result in its gallery" in still.data["text/html"]
    page, _ = HTMLExporter().from_notebook_node(nb)
    pictures = Pictures()
    pictures.feed(page)
    (thumb,) = pictures.inside("nb-banana-panel-still")
    assert max(thumb.size) == 192
    assert re.search(r"Result 1 · gemini-[\w.-]+-image · ", page)
