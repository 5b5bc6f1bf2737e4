"""Switching the kernel between Gemini and the built-in simulator, and what follows from
the switch: the client in force (with the simulator's key when offline) and the endpoint
class a turn is stored under. Turns read the settings here and hand the values down."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..context import engine, open_store, settings
from ..errors import StoreError
from ..gemini import secrets, vertex

if TYPE_CHECKING:
    from google import genai

_simulator_url: str | None = None


def go_offline() -> str:
    """Start (or reuse) the simulator and send every call there; returns its URL."""
    global _simulator_url
    from ..simulator import shared  # starts a server: not at %load_ext

    _simulator_url = shared(_state_dir()).url
    settings().base_url = _simulator_url
    return _simulator_url


def _state_dir() -> Path | None:
    """Where the simulator keeps its batch jobs: beside the store, so they outlive the
    kernel as the store does; nowhere when the store cannot be opened."""
    try:
        return open_store(settings().store).root / "simulator"
    except StoreError:
        return None


def go_online() -> None:
    global _simulator_url
    if _simulator_url and settings().base_url == _simulator_url:
        settings().base_url = ""
    _simulator_url = None


def is_offline() -> bool:
    return bool(_simulator_url) and settings().base_url == _simulator_url


def on_vertex() -> bool:
    """Whether calls go to Vertex AI (``Banana.backend = "vertex"``); ``%banana offline``
    is the Developer API's simulator, whatever the backend."""
    return settings().backend == "vertex" and not is_offline()


def vertex_target() -> vertex.Target | None:
    """Where Vertex calls go, ``None`` for the Developer API."""
    if not on_vertex():
        return None
    s = settings()
    return vertex.target(
        s.project, s.location, has_key=bool(secrets.api_key()), adc_project=engine().adc_project
    )


def current_client() -> genai.Client:
    """The client for the endpoint in force (the simulator's when offline) and its key."""
    # No local holds the key: a verbose traceback (%xmode Verbose) prints every frame's locals.
    return engine().client(
        secrets.OFFLINE_KEY if is_offline() else secrets.api_key(),
        settings().base_url,
        vertex_target(),
    )


def endpoint_class(base_url: str | None = None) -> str:
    """Who answers now (``cache.endpoint_class``): part of a stored turn's key."""
    from ..memory import cache  # loads the SDK (the cache speaks its types): not at %load_ext

    target = vertex_target()
    return cache.endpoint_class(
        settings().base_url if base_url is None else base_url,
        is_offline(),
        target.ident if target else "",
    )
