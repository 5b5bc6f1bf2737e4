"""Colab: the key from its Secrets panel, its custom widget manager, its temporary disk.

Colab is not available here: ``StandInColab`` is a stand-in for the ``google.colab`` module
Colab imports into every kernel, with the two parts nb_banana uses (``userdata.get`` and
``output.enable_custom_widget_manager``), recording how they were called.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from nb_banana.context import settings
from nb_banana.faces.colab import load_notes
from nb_banana.gemini import secrets
from nb_banana.simulator import Simulator

COLAB_KEY = "colab-secret-key-0123456789"


class StandInColab(types.ModuleType):
    """A stand-in for ``google.colab`` (tests only): Secrets and the widget manager."""

    def __init__(self, held: dict[str, str]) -> None:
        super().__init__("google.colab")
        self.asked: list[str] = []
        self.widget_manager_enabled = 0

        def get(name: str) -> str:
            self.asked.append(name)
            if name not in held:
                raise KeyError(f"SecretNotFoundError: {name}")  # Colab raises its own type
            return held[name]

        def enable_custom_widget_manager() -> None:
            self.widget_manager_enabled += 1

        self.userdata = types.SimpleNamespace(get=get)
        self.output = types.SimpleNamespace(
            enable_custom_widget_manager=enable_custom_widget_manager
        )


@pytest.fixture
def colab(monkeypatch):
    def install(held: dict[str, str]) -> StandInColab:
        stand_in = StandInColab(held)
        monkeypatch.setitem(sys.modules, "google.colab", stand_in)
        return stand_in

    return install


@pytest.fixture
def keyed_sim(sim, monkeypatch):
    """A simulator that takes only the Colab key (any other key is answered 400)."""
    with Simulator(api_key=COLAB_KEY, signature_bytes=1024) as strict:
        settings().base_url = strict.url
        monkeypatch.delenv("GEMINI_API_KEY")
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        yield strict


def test_the_key_comes_from_colab_secrets_when_the_environment_has_none(ip, keyed_sim, colab):
    colab({"GOOGLE_API_KEY": COLAB_KEY})
    with capture_output() as captured:
        ip.run_cell_magic("banana", "", "a lighthouse")
        ip.run_line_magic("banana", "offline --if-no-key")
    assert len(ip.user_ns["_banana"].images) == 1  # the simulator accepted only this key
    assert "Colab Secrets (GOOGLE_API_KEY)" in captured.stdout
    assert COLAB_KEY not in captured.stdout
    assert secrets.redact(f"said {COLAB_KEY}") == "said ***"


def test_gemini_api_key_in_colab_secrets_is_read_too(ip, keyed_sim, colab):
    stand_in = colab({"GEMINI_API_KEY": COLAB_KEY})
    ip.run_cell_magic("banana", "", "a lighthouse")
    assert stand_in.asked == ["GOOGLE_API_KEY", "GEMINI_API_KEY"]  # asked once, not per call
    ip.run_cell_magic("banana", "--fresh", "a lighthouse")
    assert stand_in.asked == ["GOOGLE_API_KEY", "GEMINI_API_KEY"]


def test_the_environment_key_wins_and_secrets_are_never_asked(ip, sim, colab):
    stand_in = colab({"GOOGLE_API_KEY": "another-key-from-secrets"})
    ip.run_cell_magic("banana", "", "a lighthouse")
    assert stand_in.asked == []


def test_no_secret_shared_is_the_no_key_line(ip, keyed_sim, colab):
    colab({})
    with pytest.raises(UsageError, match="No Gemini API key"):
        ip.run_cell_magic("banana", "", "a lighthouse")


def test_the_panel_and_the_markup_turn_on_colabs_widget_manager(ip, sim, colab):
    import nb_banana

    stand_in = colab({})
    shown = nb_banana.panel()
    shown.close()
    assert stand_in.widget_manager_enabled == 1
    nb_banana.markup(Image.new("RGB", (64, 48), "teal"))
    assert stand_in.widget_manager_enabled == 2


def test_no_colab_no_notes():
    assert load_notes(lambda: Path("/content/nb"), lambda: "Colab Secrets (X)") == []


def test_a_store_on_drive_gets_no_note(colab):
    colab({})
    root = Path("/content/drive/MyDrive/nb_banana")
    assert load_notes(lambda: root, lambda: "environment variable GEMINI_API_KEY") == []


def test_load_ext_in_colab_says_where_the_key_is_from_and_that_content_is_temporary(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, types
        from IPython.testing.globalipapp import start_ipython

        stand_in = types.ModuleType("google.colab")  # a stand-in for Colab's module
        stand_in.userdata = types.SimpleNamespace(get=lambda name: {COLAB_KEY!r})
        sys.modules["google.colab"] = stand_in
        ip = start_ipython()
        ip.config.Banana.store = "/content/nb_banana"
        ip.run_line_magic("load_ext", "nb_banana")
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "nb_banana: using the API key from Colab Secrets (GOOGLE_API_KEY)."
    assert "/content/nb_banana is on Colab's temporary disk" in lines[1]
    assert '%config Banana.store = "/content/drive/MyDrive/' in lines[1]
    assert len(lines) == 2 and COLAB_KEY not in done.stdout
