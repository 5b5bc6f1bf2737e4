"""A comparison in a real JupyterLab 4, through Chromium: three models side by side in the
cell's output, and a picture that opens at full size over the page on click.

The servers, the simulator and the browser are the panel's browser test's fixtures; the
notebook goes in through the server's contents API, as the mark-up's browser test does.
"""

from __future__ import annotations

import pytest

from . import test_markup_browser as markup
from . import test_panel_browser as shared

pytestmark = pytest.mark.browser

simulator, lab, browser = shared.simulator, shared.lab, shared.browser

PICTURES = ".nb-banana-comparison img.nb-banana-zoom"


def test_three_models_stand_side_by_side_and_a_click_opens_one_full_size(lab, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        markup._open_notebook(
            page,
            lab,
            "compare.ipynb",
            ["%load_ext nb_banana", "%%banana -m lite,flash,pro\na red fox"],
        )
        markup._run_cell(page, 1)
        page.wait_for_function(
            f"""() => {{
                const pictures = [...document.querySelectorAll('{PICTURES}')];
                return pictures.length === 3 && pictures.every(p => p.complete && p.naturalWidth);
            }}"""
        )
        page.locator(".nb-banana-comparison").screenshot(path=str(tmp_path / "compare.png"))
        boxes = [page.locator(PICTURES).nth(i).bounding_box() for i in range(3)]
        output = page.locator(".nb-banana-comparison").bounding_box()
        # One row: the same top, left to right in the order asked, a third of the width each.
        assert len({round(b["y"]) for b in boxes}) == 1
        assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
        for box in boxes:
            assert output["width"] / 3 - 20 < box["width"] <= output["width"] / 3
        flash = page.locator(PICTURES).nth(1)
        flash.click()
        page.wait_for_timeout(200)
        opened = flash.bounding_box()
        assert "nb-banana-open" in (flash.get_attribute("class") or "")
        # Over the page, far larger than its column, and all of it in view (not cut off).
        assert opened["width"] > 2 * boxes[1]["width"]
        assert opened["y"] >= 0 and opened["y"] + opened["height"] <= 1000
        assert opened["x"] >= 0 and opened["x"] + opened["width"] <= 1280
        page.screenshot(path=str(tmp_path / "opened.png"))
        page.mouse.click(opened["x"] + opened["width"] / 2, opened["y"] + opened["height"] / 2)
        page.wait_for_timeout(200)
        assert "nb-banana-open" not in (flash.get_attribute("class") or "")
        assert abs(flash.bounding_box()["width"] - boxes[1]["width"]) < 2
    except Exception:
        shared._keep_failure(page, tmp_path)
        raise
