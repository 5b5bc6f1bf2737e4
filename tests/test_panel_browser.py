"""The panel in a real JupyterLab, driven through Debian's Chromium with Python playwright.

The kernel talks to a simulator started here (``GOOGLE_GEMINI_BASE_URL``), everything stays
on 127.0.0.1, and every wait is bounded. ``NB_BANANA_UPDATE_SCREENSHOT=1`` also writes the
panel's picture to docs/panel.png.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from nb_banana.simulator import Fault, Simulator

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "panel.png"
CELL = "%load_ext nb_banana\n%banana panel"
PICTURE_SHOWN = """() => [...document.querySelectorAll('.nb-banana-panel img.nbb-picture')]
    .filter(img => img.complete && img.naturalWidth > 0).length"""

if not CHROMIUM.exists():
    pytest.skip(
        "no /usr/bin/chromium: install it with `apt-get install -y chromium`",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def lab(tmp_path_factory, simulator) -> Iterator[str]:
    """A JupyterLab 4 server on a free loopback port; yields the notebook's URL with the token."""
    lab_only = [
        "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    yield from _serve(tmp_path_factory, simulator, ["lab", *lab_only], "lab/tree")


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory, simulator) -> Iterator[str]:
    """The same for Notebook 7, the classic interface rebuilt on JupyterLab's components."""
    yield from _serve(tmp_path_factory, simulator, ["notebook"], "notebooks")


def _serve(tmp_path_factory, simulator: Simulator, app: list[str], route: str) -> Iterator[str]:
    root = tmp_path_factory.mktemp("root")
    home = tmp_path_factory.mktemp("home")
    _write_notebook(root / "panel.ipynb")
    _disable_news(home / "config")
    port, token = _free_port(), secrets.token_hex(16)
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", *app, "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--allow-root",
        ],
        env=_server_env(home, simulator.url), cwd=root, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(url, token, process, home / "server.log")
        yield f"{url}/{route}/panel.ipynb?token={token}"
    finally:
        _stop(process)
        log.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


def test_panel_in_notebook7(notebook7, simulator, browser, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        panel = _open_panel(page, notebook7)
        before = len(simulator.requests)
        panel.locator("textarea").fill("a windmill in Notebook 7")
        panel.locator("button.nbb-generate").click()
        page.wait_for_function(PICTURE_SHOWN, timeout=30_000)
        expect(panel.locator(".nbb-status.nbb-ok")).to_be_visible()
        assert len(simulator.requests) == before + 1
        assert (
            simulator.requests[-1].body["contents"][0]["parts"][0]["text"].startswith("a windmill")
        )
    except Exception:
        _keep_failure(page, tmp_path)
        raise


def test_panel_in_jupyterlab(lab, simulator, browser, tmp_path):
    from playwright.sync_api import expect

    reference = tmp_path / "reference.png"
    Image.new("RGB", (64, 48), "teal").save(reference)
    shot = tmp_path / "panel.png"
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        panel = _open_panel(page, lab)
        prompt = panel.locator("textarea")
        generate = panel.locator("button.nbb-generate")
        follow = panel.locator("button.nbb-continue")
        stop = panel.locator("button.nbb-stop")

        def answered(button) -> None:
            """Click, then wait for the simulator to see the call and the panel to settle."""
            before = len(simulator.requests)
            button.click()
            deadline = time.monotonic() + 30
            while len(simulator.requests) == before and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            expect(generate).to_be_enabled()
            expect(panel.locator(".nbb-status.nbb-ok")).to_be_visible()

        prompt.fill("a lighthouse at dawn")
        answered(generate)
        page.wait_for_function(PICTURE_SHOWN, timeout=30_000)

        prompt.fill("now at night")
        answered(follow)
        roles = [c["role"] for c in simulator.requests[-1].body["contents"]]
        assert roles == ["user", "model", "user"]

        # ipywidgets keeps the file input out of the page: answer the chooser it opens.
        with page.expect_file_chooser() as chooser:
            panel.locator(".nbb-upload").click()
        chooser.value.set_files(str(reference))
        expect(panel.locator(".nbb-chip")).to_have_count(1)
        prompt.fill("the lighthouse, painted in these colours")
        answered(generate)
        parts = simulator.requests[-1].body["contents"][-1]["parts"]
        sent = [p.get("inlineData") or p.get("inline_data") for p in parts]
        assert parts[0].get("text") and sent[1] is not None
        assert base64.urlsafe_b64decode(sent[1]["data"]) == reference.read_bytes()
        page.wait_for_function(f"({PICTURE_SHOWN})() >= 3")
        _screenshot(page, panel, shot)

        simulator.inject(Fault.slow(10))
        prompt.fill("a storm over the lighthouse")
        generate.click()
        expect(stop).to_be_enabled(timeout=2_000)
        expect(panel.locator(".nbb-status.nbb-busy")).to_contain_text(" 1 s", timeout=3_000)
        started = time.monotonic()
        stop.click()
        expect(panel.locator(".nbb-status")).to_contain_text("Cancelled", timeout=3_000)
        assert time.monotonic() - started < 3
        expect(generate).to_be_enabled()

        for theme in ("JupyterLab Dark", "JupyterLab Light"):
            _switch_theme(page, theme)
            assert _contrast(panel) >= 4.5, f"panel text is hard to read in {theme}"
    except Exception:
        _keep_failure(page, tmp_path)
        raise
    assert Image.open(shot).width > 300
    if os.environ.get("NB_BANANA_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)


def _keep_failure(page, tmp_path: Path) -> None:
    failure = tmp_path / "failure.png"
    page.screenshot(path=str(failure), full_page=True)
    print(f"screenshot of the page at the failure: {failure}")


def _switch_theme(page, theme: str) -> None:
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    page.get_by_role("menuitem", name=theme, exact=True).click()
    light = "false" if "Dark" in theme else "true"
    page.wait_for_selector(f'body[data-jp-theme-light="{light}"]', state="attached")
    page.wait_for_timeout(300)


CONTRAST = """root => {
    const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map(v => {
        v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const text = lum(rgb(getComputedStyle(root.querySelector('.nbb-title')).color));
    const back = lum(rgb(getComputedStyle(root).backgroundColor));
    return (Math.max(text, back) + 0.05) / (Math.min(text, back) + 0.05);
}"""


def _contrast(panel) -> float:
    """WCAG contrast of the panel's title against its background, as the theme renders it."""
    return panel.evaluate(CONTRAST)


def _screenshot(page, panel, path: Path) -> None:
    """The whole panel: a tall page, the file browser folded away, the panel at the top."""
    page.set_viewport_size({"width": 1280, "height": 2200})
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    panel.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = panel.bounding_box()
    clip = {**box, "height": min(box["height"], 1100)}
    page.screenshot(path=str(path), clip=clip)
    page.set_viewport_size({"width": 1280, "height": 1000})


def _open_panel(page, url: str):
    """Open the notebook, wait for an idle kernel, run its one cell, return the panel.

    A key press that lands before the editor is wired up is lost, so the run is retried
    until the cell has an execution count.
    """
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(
        '.jp-Notebook-ExecutionIndicator[data-status="idle"]', state="attached", timeout=60_000
    )
    prompt = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first
    for _ in range(5):
        choose_kernel = page.locator(".jp-Dialog .jp-mod-accept")  # a loaded server may ask
        if choose_kernel.count():
            choose_kernel.first.click()
        try:
            page.locator(".jp-Notebook .jp-Cell .cm-content").first.click(timeout=5_000)
            page.keyboard.press("Shift+Enter")
            page.wait_for_function(
                "el => /\\d/.test(el.textContent)", arg=prompt.element_handle(), timeout=10_000
            )
            break
        except Exception:
            continue
    panel = page.locator(".nb-banana-panel")
    panel.wait_for(state="visible", timeout=60_000)
    return panel


def _write_notebook(path: Path) -> None:
    cells = [
        {"cell_type": "code", "execution_count": None, "id": "panel", "metadata": {},
         "outputs": [], "source": CELL}
    ]  # fmt: skip
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


def _disable_news(config_dir: Path) -> None:
    """No "receive Jupyter news?" toast over the page, and no fetch for it."""
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True)
    disabled = {"@jupyterlab/apputils-extension:announcements": True}
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))


def _server_env(home: Path, simulator_url: str) -> dict[str, str]:
    """No real key or endpoint leaks in; the kernel talks to the simulator with a test key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "GOOGLE"))}
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        GOOGLE_GEMINI_BASE_URL=simulator_url,
        GEMINI_API_KEY="test-key",
    )
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, token: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"JupyterLab did not start within 60 s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Terminate the server's whole process group (its kernels included)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
