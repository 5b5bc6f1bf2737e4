"""What ``--dry-run`` hands back: the request as it would go out, nothing sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..gemini.request import Request
from . import drawing


@dataclass(frozen=True)
class DryRun:
    """What ``--dry-run`` shows: the request as it would go out, and its estimated cost."""

    request: Request
    history_turns: int
    endpoint: str
    body: dict[str, Any]
    estimate: float
    cached: bool = False

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return drawing.bundle(self)
