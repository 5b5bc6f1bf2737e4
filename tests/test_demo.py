"""``make demo``'s job: the quickstart runs headless and its HTML copy carries the images."""

from __future__ import annotations

import re
from pathlib import Path

from nb_banana.demo import run

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_runs_offline_and_writes_html_with_images(tmp_path):
    html_path = run(ROOT / "notebooks" / "quickstart.ipynb", tmp_path)
    html = html_path.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/(?:png|jpeg|webp);base64,', html)
    assert len(images) >= 8
    assert "offline" in html and "simulator" in html
    assert "does not take 4K images (makes -s 1K)" in html  # the one-line refusal, shown
    assert "gemini-3.1-flash-lite-image" in html and "shut down 2026-06-25" in html
    # The --thoughts cell on Pro: its thought summaries folded under the final picture.
    assert "<summary>Thoughts and 2 draft(s)</summary>" in html
    assert "<strong>Planning the picture</strong>" in html and "nb-banana-live" not in html
