"""Issue 6, the store: a re-run answered from it, and what a notebook carries per picture.

The cached figure re-runs an identical ``-n 4`` cell (the store answers; no call). The
notebook figures put a cell's captured outputs into a one-cell notebook with ``nbformat``
and count the bytes they add to the ``.ipynb``, against embedding the full PNG (its
base64). Both pictures come from the simulator, whose flat gradients make unusually small
PNGs; the details add the same share for a photo-like 2K PNG.
"""

from __future__ import annotations

import base64

import nbformat

from nb_banana.previews import make_preview
from nb_banana.settings import settings

from .content import DESCRIPTION, photo_like
from .figure import Figure
from .rig import Rig
from .stats import Stat, stopwatch_ms

PROMPT = "a lighthouse on a cliff at dawn, watercolour"


def cached_figure(rig: Rig, repeats: int) -> Figure:
    rig.fresh_store()
    line = "-n 4"
    rig.cell(line, PROMPT)
    if rig.last.cached:
        raise RuntimeError("the first run of a fresh store came from the cache")

    def rerun() -> None:
        rig.cell(line, PROMPT)
        if not rig.last.cached:
            raise RuntimeError("the identical re-run was not answered from the store")

    rerun()
    value = Stat.of([stopwatch_ms(rerun) for _ in range(repeats)])
    return Figure(
        "cached_rerun_n4", 6, "cached re-run of a -n 4 cell", "ms", value,
        "the same %%banana -n 4 cell again (1K, flash): cache key, store lookup, 4 images and "
        "previews read back, display; wall time of run_cell_magic",
        score=value.median, score_unit="ms", limit=50.0, target="< 50 ms",
    )  # fmt: skip


def notebook_bytes_figure(rig: Rig, size: str) -> Figure:
    rig.fresh_store()
    line = f"-m pro -s {size} --fresh"
    captured = rig.cell(line, PROMPT)
    full_png = rig.last.outputs[0].data
    full = len(base64.b64encode(full_png))
    source = f"%%banana {line}\n{PROMPT}"
    added = _ipynb_bytes(source, captured.outputs)
    pictured = [o for o in captured.outputs if "data:image/" in o.data.get("text/html", "")]
    share = added / full
    return Figure(
        f"ipynb_bytes_{size.lower()}", 6, f".ipynb bytes per {size} image", "bytes",
        Stat.of([added]),
        "bytes a one-image cell's outputs add to the .ipynb (nbformat.writes with vs without "
        "them: HTML with the preview, caption, metadata) vs base64 of the full PNG",
        Stat.of([full]), "full PNG as base64", score=share, score_unit="of full",
        limit=0.10, target="≤ 10%",
        details={"png_bytes": len(full_png), "preview_px": settings().preview_px,
                 "image_output_only_bytes": _ipynb_bytes(source, pictured),
                 "photo_like_2k": _photo_like_share()},
    )  # fmt: skip


def _ipynb_bytes(source: str, outputs: list) -> int:
    """What the outputs add to a notebook file, as Jupyter would write it."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    empty = len(nbformat.writes(notebook).encode())
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("display_data", data=o.data, metadata=o.metadata) for o in outputs
    ]
    return len(nbformat.writes(notebook).encode()) - empty


def _photo_like_share() -> dict[str, object]:
    """The preview's share for a 2K PNG with photo-like content (Pillow's default PNG)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(photo_like(2048, seed=99)).save(buffer, "PNG")
    png = buffer.getvalue()
    preview = make_preview(png, "image/png", settings().preview_px)
    full, shown = len(base64.b64encode(png)), len(base64.b64encode(preview.data))
    return {"content": DESCRIPTION, "png_bytes": len(png), "preview_bytes": len(preview.data),
            "share": shown / full}  # fmt: skip
