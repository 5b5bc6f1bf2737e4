"""One row of the table: what was measured, against what, and whether it met its target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .stats import Stat


@dataclass(frozen=True)
class Figure:
    """A measured figure; ``score`` is the number the target is about (a ratio, ms, a share).

    ``limit`` is the target's bound (``score <= limit`` meets it); figures with no target
    (the chat's bytes and memory) leave both ``None``.
    """

    key: str
    issue: int
    title: str
    unit: str
    value: Stat
    how: str
    baseline: Stat | None = None
    baseline_title: str = ""
    score: float | None = None
    score_unit: str = "×"
    limit: float | None = None
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    aside: str = ""  # a short remark printed beside the score (e.g. the SDK-alone floor)

    @property
    def ratio(self) -> float | None:
        """The median over the baseline's median (both measured in the same rounds)."""
        if self.baseline is None or not self.baseline.median:
            return None
        return self.value.median / self.baseline.median

    @property
    def met(self) -> bool | None:
        if self.limit is None or self.score is None:
            return None
        return self.score <= self.limit

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "issue": self.issue,
            "title": self.title,
            "unit": self.unit,
            **self.value.to_json(),
            "baseline": None
            if self.baseline is None
            else {"title": self.baseline_title, "unit": self.unit, **self.baseline.to_json()},
            "ratio": self.ratio,
            "score": self.score,
            "score_unit": self.score_unit,
            "limit": self.limit,
            "target": self.target,
            "met": self.met,
            "how": self.how,
            "aside": self.aside,
            "details": self.details,
        }


def against(
    key: str,
    issue: int,
    title: str,
    value: Stat,
    baseline: Stat,
    baseline_title: str,
    limit: float,
    how: str,
    aside: str = "",
    **details: Any,
) -> Figure:
    """A time in ms whose target is a ratio to a baseline time: ``value / baseline <= limit``."""
    ratio = value.median / baseline.median
    return Figure(
        key, issue, title, "ms", value, how, baseline, baseline_title,
        score=ratio, limit=limit, target=f"≤ {limit:g}×", details=details, aside=aside,
    )  # fmt: skip
