"""Marks drawn on a picture, as data: what the browser edits and Pillow renders.

A mark travels as a JSON dict in the widget's ``marks`` list, so it syncs with the browser,
survives re-opening and can be written by hand; ``Mark.parse`` checks one and makes it a
typed value. Points are in the original image's pixels, whatever size the browser shows it
at, so the same marks give the same picture at full resolution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

# How many points each kind of mark takes: (fewest, most); a pen stroke takes any number.
POINTS = {"pen": (1, math.inf), "rect": (2, 2), "ellipse": (2, 2), "arrow": (2, 2), "text": (1, 1)}
# Strong colours that read on photos: (the mark, the outline that keeps a label legible).
PALETTE = {
    "red": ("#ff1f1f", "#ffffff"),
    "yellow": ("#ffd600", "#000000"),
    "green": ("#00c853", "#ffffff"),
    "blue": ("#2962ff", "#ffffff"),
    "white": ("#ffffff", "#000000"),
    "black": ("#000000", "#ffffff"),
}
MAX_LABEL = 40
# Far outside any picture: a point beyond it is a mistake, and would make Pillow slow.
_MAX_COORD = 100_000


@dataclass(frozen=True)
class Mark:
    """One mark: a pen stroke, rectangle, ellipse, arrow (tail, tip) or text label."""

    kind: str
    color: str
    points: tuple[tuple[int, int], ...]
    text: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> Mark:
        """Check a mark's dict and round its points to pixels; ``ValueError`` says what is
        wrong, so a hand-written mark is refused when set, not when the picture is drawn."""
        kind, color, text = raw.get("kind"), raw.get("color"), raw.get("text", "")
        if kind not in POINTS:
            raise ValueError(f"kind {kind!r} is not one of {', '.join(POINTS)}")
        if color not in PALETTE:
            raise ValueError(f"color {color!r} is not one of {', '.join(PALETTE)}")
        points = _points(raw.get("points"))
        fewest, most = POINTS[kind]
        if not fewest <= len(points) <= most:
            raise ValueError(f"a {kind} takes {_how_many(fewest, most)}, not {len(points)}")
        if not isinstance(text, str) or (kind == "text") != bool(text.strip()):
            raise ValueError("a text mark needs a label, and only a text mark has one")
        if len(text) > MAX_LABEL:
            raise ValueError(f"a label is at most {MAX_LABEL} characters, not {len(text)}")
        return cls(kind, color, points, text.strip())

    def as_dict(self) -> dict[str, object]:
        """The JSON form kept in the widget's ``marks`` list."""
        raw: dict[str, object] = {
            "kind": self.kind,
            "color": self.color,
            "points": [list(p) for p in self.points],
        }
        return {**raw, "text": self.text} if self.text else raw


@dataclass(frozen=True)
class Metrics:
    """Sizes in image pixels, grown with the picture so marks stay visible at 4K."""

    line: int  # stroke width
    head: int  # arrow head length; its half-width is half of that
    font: int  # label size
    outline: int  # the contrasting edge around a label's letters

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def metrics_for(width: int, height: int) -> Metrics:
    """4 px on a 1024 px picture, 16 px at 4K, never thinner than 2 px."""
    line = max(2, round(max(width, height) / 256))
    return Metrics(line=line, head=5 * line, font=6 * line, outline=max(1, line // 2))


def _points(value: object) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError("points must be a list of [x, y] pairs")
    return tuple(_point(item) for item in value)


def _point(item: object) -> tuple[int, int]:
    if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(map(_coord, item))):
        raise ValueError(f"a point is [x, y] in pixels within ±{_MAX_COORD}, not {item!r}")
    return round(item[0]), round(item[1])


def _coord(value: object) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and abs(value) <= _MAX_COORD


def _how_many(fewest: float, most: float) -> str:
    if fewest == most:
        return f"{fewest} point{'s' if fewest > 1 else ''}"
    return f"at least {fewest} point"
