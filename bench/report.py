"""The one table a run prints, and ``results.json``, written whole or not at all.

The table is drawn from the figures' JSON documents, so ``python -m bench.report
[results.json]`` redraws a saved run as the Markdown table in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_HEADERS = ("#", "figure", "median", "min–max", "baseline: median (min–max)", "score", "target",
            "met")  # fmt: skip
Doc = dict[str, Any]


def amount(value: float, unit: str) -> str:
    """A number in its unit, with as many digits as its size deserves."""
    if unit == "bytes":
        return f"{value / 1000:,.1f} kB" if value < 1e6 else f"{value / 1e6:,.2f} MB"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}"


def spread(stat: Doc, unit: str) -> str:
    if len(stat["runs"]) == 1:
        return "(one run)"
    return f"{amount(stat['min'], unit)} – {amount(stat['max'], unit)}"


def score_text(figure: Doc) -> str:
    text = _score(figure)
    return f"{text} ({figure['aside']})" if figure["aside"] else text


def _score(figure: Doc) -> str:
    score, unit = figure["score"], figure["score_unit"]
    if score is None:
        return "—"
    if unit == "of full":
        return f"{score * 100:.1f}%"
    if unit.startswith("ms"):
        sign = "+" if unit == "ms added" and score >= 0 else ""
        return sign + amount(score, "ms")
    return f"{score:.3f}{unit}"


def rows(figures: Sequence[Doc]) -> list[tuple[str, ...]]:
    out = []
    for f in figures:
        unit, base = f["unit"], "—"
        if f["baseline"] is not None:
            b = f["baseline"]
            low_high = "" if len(b["runs"]) == 1 else f" ({spread(b, unit)})"
            base = f"{b['title']}: {amount(b['median'], unit)}{low_high}"
        met = {True: "yes", False: "NO", None: "—"}[f["met"]]
        out.append(
            (str(f["issue"]), f["title"], amount(f["median"], unit), spread(f, unit), base,
             score_text(f), f["target"] or "—", met)
        )  # fmt: skip
    return out


def table(figures: Sequence[Doc]) -> str:
    body = rows(figures)
    widths = [max(len(r[i]) for r in [_HEADERS, *body]) for i in range(len(_HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [_HEADERS, tuple("-" * w for w in widths), *body]
    ]
    return "\n".join(lines)


def markdown(figures: Sequence[Doc]) -> str:
    """The same table for docs/benchmarks.md."""
    lines = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in rows(figures)]  # fmt: skip
    return "\n".join(lines)


def write_json(path: Path, document: Doc) -> None:
    """Temp file then rename: a reader never sees half a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    saved = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results.json"
    print(markdown(json.loads(saved.read_text(encoding="utf-8"))["figures"]))
