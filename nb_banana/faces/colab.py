"""What Colab needs: its custom widget manager, and a word about its temporary disk.

Colab imports ``google.colab`` into every kernel it runs, so its presence in
``sys.modules`` says where we are without importing anything (outside Colab, trying the
import would cost a search of the path at every use). The key from Colab's Secrets panel
is read low down, with the other keys (``gemini/secrets.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

# The runtime's own disk: gone when Colab recycles the runtime; Drive is mounted under it.
TEMPORARY = Path("/content")
DRIVE = TEMPORARY / "drive"


def in_colab() -> bool:
    return "google.colab" in sys.modules


def enable_widgets() -> None:
    """Colab draws third-party widgets (ipywidgets' panel, the anywidget mark-up) only once
    its custom widget manager is on; turning it on again does nothing."""
    if in_colab():
        sys.modules["google.colab"].output.enable_custom_widget_manager()


def store_note(root: Path) -> str | None:
    """One line when the store lies on the runtime's temporary disk, with how to keep it."""
    if not in_colab() or not root.is_relative_to(TEMPORARY) or root.is_relative_to(DRIVE):
        return None
    return (
        f"The nb_banana store {root} is on Colab's temporary disk and goes when the runtime is "
        "recycled: mount Drive (from google.colab import drive; drive.mount('/content/drive')) "
        'and keep it there with %config Banana.store = "/content/drive/MyDrive/nb_banana".'
    )


def load_notes(store_root: Callable[[], Path], key_source: Callable[[], str]) -> list[str]:
    """What ``%load_ext`` says in Colab: where the key comes from when Colab's Secrets hold
    it, and the store's note; nothing (and nothing asked) elsewhere."""
    if not in_colab():
        return []
    source = key_source()
    notes = [f"nb_banana: using the API key from {source}."] if source.startswith("Colab") else []
    note = store_note(store_root())
    return notes + ([note] if note else [])
