"""``python -m bench --quick`` runs end to end and writes every figure with numbers.

A smoke test only: the machine running the tests is not the one to judge speed on, so no
figure's value is asserted, only that each was measured and recorded.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "cell_1k", "variants_n4", "variants_n8", "load_ext", "references_14", "references_memory",
    "replies_4x2k", "panel_click", "cached_rerun_n4", "ipynb_bytes_2k", "ipynb_bytes_4k",
    "chat_turn_bytes", "chat_turn_floor", "chat_heap_held", "chat_rss_held", "batch_submit_500",
    "each_100", "each_rate_limited", "each_memory", "first_thought_shown",
}  # fmt: skip


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_quick_bench_writes_every_figure_with_numbers(tmp_path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    figures = {f["key"]: f for f in results["figures"]}
    assert set(figures) == FIGURES
    for key, figure in figures.items():
        assert all(_number(figure[k]) for k in ("median", "min", "max")), key
        assert figure["runs"] and all(_number(r) for r in figure["runs"]), key
        if figure["baseline"] is not None:
            assert _number(figure["baseline"]["median"]) and _number(figure["ratio"]), key
        if figure["limit"] is not None:
            assert _number(figure["score"]) and isinstance(figure["met"], bool), key
    assert results["machine"]["cores"] and results["plan"]["quick"] is True
    assert "%%banana cell, one 1K image" in done.stdout  # the table was printed
