"""Live thoughts in a real JupyterLab 4, through Chromium: the cell shows the model thinking.

A ``--thoughts`` cell on Pro, with the simulator spreading its streamed events over a few
seconds: the cell must show thought text, then a draft picture, before the final picture,
and then the final picture in their place. A screenshot is taken at each of those moments
(in the test's tmp dir); ``NB_BANANA_UPDATE_SCREENSHOT=1`` also copies the one of the
drafts streaming in to docs/thinking.png, the README's picture.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from . import test_markup_browser as markup
from . import test_panel_browser as shared

pytestmark = pytest.mark.browser

simulator, lab, browser = shared.simulator, shared.lab, shared.browser

DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "thinking.png"
SPREAD = 8.0  # seconds the simulator takes to tell its events
CELLS = [
    "%load_ext nb_banana",
    "%%banana -m pro --thoughts\na lighthouse keeper's cottage in a storm",
]
THOUGHT_SHOWN = """() => [...document.querySelectorAll('.nb-banana-live-thoughts strong')]
    .some(el => el.textContent.includes('Planning the picture'))"""
DRAFT_SHOWN = """() => [...document.querySelectorAll('.nb-banana-live img')]
    .some(img => img.complete && img.naturalWidth > 0)"""
FINAL_SHOWN = """() => [...document.querySelectorAll('.nb-banana-result img')]
    .some(img => img.complete && img.naturalWidth > 0)"""
COUNT = "selector => document.querySelectorAll(selector).length"


def test_a_thoughts_cell_shows_thoughts_then_drafts_then_the_picture(
    lab, simulator, browser, tmp_path
):
    simulator.stream_seconds = SPREAD
    page = browser.new_page(viewport={"width": 1100, "height": 1300})
    page.set_default_timeout(60_000)
    try:
        _open(page, lab)
        cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
        _start(page, cell)
        page.wait_for_function(THOUGHT_SHOWN, timeout=60_000)
        assert page.evaluate(COUNT, ".nb-banana-live img") == 0  # the text comes first
        assert page.evaluate(COUNT, ".nb-banana-result") == 0
        cell.screenshot(path=str(tmp_path / "1-thoughts.png"))
        page.wait_for_function(DRAFT_SHOWN, timeout=30_000)
        assert page.evaluate(COUNT, ".nb-banana-result") == 0  # before the final picture
        page.wait_for_timeout(200)
        cell.screenshot(path=str(tmp_path / "2-drafts.png"))
        page.wait_for_function(FINAL_SHOWN, timeout=60_000)
        cell.screenshot(path=str(tmp_path / "3-final.png"))
        assert page.evaluate(COUNT, ".nb-banana-live") == 0  # replaced in place
        assert page.evaluate(COUNT, ".nb-banana-thoughts") == 1  # folded under the picture
    except Exception:
        shared._keep_failure(page, tmp_path)
        raise
    finally:
        simulator.stream_seconds = 0.0
        page.close()
    print(f"screenshots: {tmp_path}")
    if os.environ.get("NB_BANANA_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "2-drafts.png", DOCS_SCREENSHOT)


def _start(page, cell) -> None:
    """Run the cell without waiting for it to finish (``markup._run_cell`` waits for the
    execution count, which comes only at the end): its prompt shows ``[*]`` meanwhile."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "el => el.textContent.includes('*')", arg=cell.locator(".jp-InputPrompt").element_handle()
    )


def _open(page, url: str) -> None:
    """Put the notebook beside the fixture's, open it, and load the extension."""
    markup._open_notebook(page, url, "thinking.ipynb", CELLS)
    page.wait_for_selector(
        '.jp-Notebook-ExecutionIndicator[data-status="idle"]', state="attached", timeout=60_000
    )
