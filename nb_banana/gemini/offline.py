"""Switching the kernel between Gemini and the built-in simulator."""

from __future__ import annotations

from pathlib import Path

from .settings import settings

_simulator_url: str | None = None


def go_offline() -> str:
    """Start (or reuse) the simulator and send every call there; returns its URL."""
    global _simulator_url
    from ..simulator import shared

    _simulator_url = shared(_state_dir()).url
    settings().base_url = _simulator_url
    return _simulator_url


def _state_dir() -> Path | None:
    """Where the simulator keeps its batch jobs: beside the store, so they outlive the
    kernel as the store does; nowhere when the store cannot be opened."""
    from ..errors import StoreError
    from ..memory.store import open_store

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
