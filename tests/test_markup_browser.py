"""The markup widget in a real JupyterLab 4 and Notebook 7, driven through Chromium.

The servers, the simulator and the browser are the panel's browser test's fixtures; this
file adds its notebook and picture through the server's contents API. Marks are drawn with
the mouse, and the picture the simulator receives for ``{marked}`` must differ from the
original where they are and nowhere else. ``NB_BANANA_UPDATE_SCREENSHOT=1`` also writes the
widget's picture to docs/markup.png.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops

from . import test_panel_browser as shared

pytestmark = pytest.mark.browser

# The panel's browser fixtures: a simulator, JupyterLab 4, Notebook 7, Chromium.
simulator, lab, notebook7, browser = shared.simulator, shared.lab, shared.notebook7, shared.browser

DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "markup.png"
SIZE = (800, 600)
SETUP = """%load_ext nb_banana
import nb_banana
from PIL import Image
photo = Image.open("photo.png")
marked = nb_banana.markup(photo)
marked"""
SEND = "%%banana\nMake what is marked stand out: {marked}"
KINDS = 'print("kinds:", [m["kind"] for m in marked.marks])'
RECT = ((120, 140), (420, 380))  # image pixels
ARROW = ((700, 520), (480, 330))
WIDGET_READY = """() => {
    const img = document.querySelector('.nbm-root img.nbm-picture');
    const canvas = document.querySelector('.nbm-root canvas.nbm-canvas');
    return img && img.complete && img.naturalWidth > 0 && canvas && canvas.width > 1;
}"""


def gradient() -> Image.Image:
    """No palette colour appears in it (blue is 128 throughout), so every marked pixel shows."""
    width, height = SIZE
    xs = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    ys = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    return Image.fromarray(np.dstack([xs, ys, np.full_like(xs, 128)]), "RGB")


def test_marks_drawn_in_jupyterlab_go_to_the_model_where_they_were_drawn(
    lab, simulator, browser, tmp_path
):
    photo = gradient()
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.set_default_timeout(30_000)
    try:
        widget = _open(page, lab, [SETUP, SEND], photo)
        _drag(page, widget, "rect", "red", *RECT)
        _drag(page, widget, "arrow", "yellow", *ARROW)
        page.wait_for_timeout(300)  # the marks' last sync to the kernel
        widget.screenshot(path=str(tmp_path / "markup.png"))
        before = len(simulator.requests)
        _run_cell(page, 1)
        _wait_for(lambda: len(simulator.requests) > before)
        sent = _sent_image(simulator.requests[-1].body)
    except Exception:
        shared._keep_failure(page, tmp_path)
        raise
    assert sent.size == photo.size
    diff = np.asarray(ImageChops.difference(photo, sent.convert("RGB"))).any(2)
    line = max(2, round(max(SIZE) / 256))
    slack = line + 3  # half a line each side, and a screen pixel's rounding
    allowed = _box_mask(RECT, slack) | _box_mask(ARROW, 3 * line + 3)  # a head 5 lines long
    assert diff.any() and not (diff & ~allowed).any()
    (x0, y0), (x1, y1) = RECT
    for x, y in [((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), (x0, (y0 + y1) // 2)]:
        assert diff[y - slack : y + slack, x - slack : x + slack].any(), f"no outline at {x, y}"
    assert not diff[y0 + slack : y1 - slack, x0 + slack : x1 - slack].any()  # not filled
    tip = ARROW[1]
    assert diff[tip[1] - slack : tip[1] + slack, tip[0] - slack : tip[0] + slack].any()
    if os.environ.get("NB_BANANA_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "markup.png", DOCS_SCREENSHOT)


def test_the_widget_draws_and_takes_a_label_in_notebook7(notebook7, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.set_default_timeout(30_000)
    try:
        widget = _open(page, notebook7, [SETUP, KINDS], gradient())
        _drag(page, widget, "ellipse", "blue", (100, 100), (300, 250))
        widget.locator('button[data-tool="text"]').click()
        widget.locator("input.nbm-label").fill("bigger")
        _click_at(page, widget, (400, 300))
        widget.locator("button.nbm-undo").click()
        _click_at(page, widget, (420, 320))
        page.wait_for_timeout(300)
        _run_cell(page, 1)
        output = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
        output.filter(has_text="kinds:").wait_for()
        assert "['ellipse', 'text']" in output.inner_text()
    except Exception:
        shared._keep_failure(page, tmp_path)
        raise


def _open(page, url: str, cells: list[str], photo: Image.Image):
    """Put the notebook and the photo beside the fixture's, open it, run its first cell."""
    picture = {"type": "file", "format": "base64", "content": _png_b64(photo)}
    _api(url, "PUT", "contents/photo.png", picture)
    _open_notebook(page, url, "markup.ipynb", cells)
    page.wait_for_function(WIDGET_READY, timeout=60_000)
    return page.locator(".nbm-root")


def _open_notebook(page, url: str, name: str, cells: list[str]) -> None:
    """Put a notebook of ``cells`` beside the fixture's as ``name``, open it once its kernel
    is idle, and run its first cell (the other browser tests open theirs this way too)."""
    notebook = {"type": "notebook", "format": "json", "content": _notebook(cells)}
    _api(url, "PUT", f"contents/{name}", notebook)
    page.goto(url.replace("/panel.ipynb?", f"/{name}?"), wait_until="domcontentloaded",
              timeout=60_000)  # fmt: skip
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(
        '.jp-Notebook-ExecutionIndicator[data-status="idle"]', state="attached", timeout=60_000
    )
    _run_cell(page, 0)


def _run_cell(page, index: int) -> None:
    """Run one cell; a key press that lands before the editor is wired up is lost, so the run
    is retried until the cell has an execution count. On a loaded machine the page may open
    the notebook before it knows the server's kernels and ask which to use: the preselected
    one (the notebook's own) is accepted."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    for _ in range(5):
        choose_kernel = page.locator(".jp-Dialog .jp-mod-accept")
        if choose_kernel.count():
            choose_kernel.first.click()
        try:
            cell.locator(".cm-content").click(timeout=5_000)
            page.keyboard.press("Shift+Enter")
            page.wait_for_function(
                "el => /\\d/.test(el.textContent)", arg=prompt.element_handle(), timeout=10_000
            )
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"cell {index} did not run")


def _drag(page, widget, tool: str, color: str, start, end) -> None:
    """Choose the tool and colour, then drag between two points given in image pixels."""
    widget.locator(f'button[data-tool="{tool}"]').click()
    widget.locator(f'button[data-color="{color}"]').click()
    (x0, y0), (x1, y1) = _on_screen(widget, start), _on_screen(widget, end)
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * step / 10, y0 + (y1 - y0) * step / 10)
    page.mouse.up()


def _click_at(page, widget, point) -> None:
    page.mouse.click(*_on_screen(widget, point))


def _on_screen(widget, point) -> tuple[float, float]:
    box = widget.locator("canvas.nbm-canvas").bounding_box()
    return box["x"] + point[0] * box["width"] / SIZE[0], box["y"] + point[1] * box["height"] / SIZE[
        1
    ]


def _box_mask(corners, grow: int) -> np.ndarray:
    (x0, y0), (x1, y1) = corners
    mask = np.zeros((SIZE[1], SIZE[0]), bool)
    top, bottom = max(0, min(y0, y1) - grow), max(y0, y1) + grow + 1
    left, right = max(0, min(x0, x1) - grow), max(x0, x1) + grow + 1
    mask[top:bottom, left:right] = True
    return mask


def _sent_image(body: dict) -> Image.Image:
    parts = body["contents"][-1]["parts"]
    inline = [p.get("inlineData") or p.get("inline_data") for p in parts]
    data = next(blob for blob in inline if blob)["data"]
    return Image.open(io.BytesIO(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))))


def _wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the simulator saw no request")
        time.sleep(0.1)


def _api(url: str, method: str, route: str, body: dict) -> None:
    """One call to the server's REST API (``/api/ROUTE``), with the fixture's token."""
    parts = urllib.parse.urlsplit(url)
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    request = urllib.request.Request(
        f"{parts.scheme}://{parts.netloc}/api/{route}",
        data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201)


def _png_b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {},
             "outputs": [], "source": source}
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
