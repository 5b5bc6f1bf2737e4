"""The one table a run prints, and ``results.json``, written whole or not at all."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .figure import Figure
from .stats import Stat

_HEADERS = ("#", "figure", "median", "min–max", "baseline: median (min–max)", "score", "target",
            "met")  # fmt: skip


def amount(value: float, unit: str) -> str:
    """A number in its unit, with as many digits as its size deserves."""
    if unit == "bytes":
        return f"{value / 1000:,.1f} kB" if value < 1e6 else f"{value / 1e6:,.2f} MB"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}"


def spread(stat: Stat, unit: str) -> str:
    if len(stat.runs) == 1:
        return "(one run)"
    return f"{amount(stat.low, unit)} – {amount(stat.high, unit)}"


def score_text(figure: Figure) -> str:
    score = figure.score
    if score is None:
        return "—"
    if figure.score_unit == "of full":
        return f"{score * 100:.1f}%"
    if figure.score_unit.startswith("ms"):
        sign = "+" if figure.score_unit == "ms added" and score >= 0 else ""
        return sign + amount(score, "ms")
    return f"{score:.2f}{figure.score_unit}"


def rows(figures: Sequence[Figure]) -> list[tuple[str, ...]]:
    out = []
    for f in figures:
        base = "—"
        if f.baseline is not None:
            low_high = "" if len(f.baseline.runs) == 1 else f" ({spread(f.baseline, f.unit)})"
            base = f"{f.baseline_title}: {amount(f.baseline.median, f.unit)}{low_high}"
        met = {True: "yes", False: "NO", None: "—"}[f.met]
        out.append((str(f.issue), f.title, amount(f.value.median, f.unit),
                    spread(f.value, f.unit), base, score_text(f), f.target or "—", met))  # fmt: skip
    return out


def table(figures: Sequence[Figure]) -> str:
    body = rows(figures)
    widths = [max(len(r[i]) for r in [_HEADERS, *body]) for i in range(len(_HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [_HEADERS, tuple("-" * w for w in widths), *body]
    ]
    return "\n".join(lines)


def markdown(figures: Sequence[Figure]) -> str:
    """The same table for docs/benchmarks.md."""
    lines = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(figures)]
    return "\n".join(lines)


def write_json(path: Path, figures: Sequence[Figure], context: dict[str, Any]) -> None:
    """Temp file then rename: a reader never sees half a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**context, "figures": [f.to_json() for f in figures]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
