"""Issue 6, the store: a re-run answered from it, and what a notebook carries per picture.

The cached figure re-runs an identical ``-n 4`` cell (the store answers; no call). The
notebook figures put a cell's captured outputs into a one-cell notebook with ``nbformat``
and count the bytes they add to the ``.ipynb``, against embedding the full PNG (its
base64). The simulator's flat gradients make unusually small PNGs, so the score swaps in a
photo-like PNG of the same size (through the same display code); details keep both.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from types import SimpleNamespace
from typing import Any

import nbformat
from PIL import Image

from nb_banana.answer.display import result_bundle
from nb_banana.answer.previews import make_previews
from nb_banana.context import settings

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
    """Scored on a photo-like picture of the reply's size, shown through the real display path.

    The simulator's flat gradients make PNGs a tenth of a real reply's size, which would
    judge the preview against an unreal baseline; the simulator's own share is in details.
    """
    rig.fresh_store()
    line = f"-m pro -s {size} --fresh"
    captured = rig.cell(line, PROMPT)
    result = rig.last
    source = f"%%banana {line}\n{PROMPT}"
    simulated = _share(source, captured.outputs, result.outputs[0].data)
    photo = _photo_png(result.outputs[0].width, result.outputs[0].height)
    outputs = [_with_picture(result, photo) if _is_picture(o) else o for o in captured.outputs]
    real = _share(source, outputs, photo)
    return Figure(
        f"ipynb_bytes_{size.lower()}", 6, f".ipynb bytes per {size} image", "bytes",
        Stat.of([real["added"]]),
        "bytes a one-image cell's outputs add to the .ipynb (nbformat.writes with vs without "
        "them: HTML with the preview, caption, metadata), the reply being a photo-like PNG "
        "of that size, vs base64 of that full PNG",
        Stat.of([real["full"]]), "full PNG as base64", score=real["share"],
        score_unit="of full", limit=0.10, target="≤ 10%",
        details={"content": DESCRIPTION, "photo_png_bytes": len(photo),
                 "preview_px": settings().preview_px, "simulator_picture": simulated},
    )  # fmt: skip


def _share(source: str, outputs: list, png: bytes) -> dict[str, float]:
    added, full = _ipynb_bytes(source, outputs), len(base64.b64encode(png))
    return {"added": added, "full": full, "share": added / full, "png_bytes": len(png)}


def _is_picture(output: Any) -> bool:
    return "data:image/" in output.data.get("text/html", "")


def _photo_png(width: int, height: int) -> bytes:
    """A photo-like PNG as large as a camera's (Pillow's default compression)."""
    buffer = io.BytesIO()
    array = photo_like(max(width, height), seed=99)[:height, :width]
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _with_picture(result: Any, png: bytes) -> SimpleNamespace:
    """The result's display as it would be had the model sent ``png``: same path, new bytes."""
    reply = result.replies[0]
    image = dataclasses.replace(reply.images[0], data=png, mime_type="image/png")
    swapped = dataclasses.replace(
        result,
        replies=(dataclasses.replace(reply, images=(image,)),),
        previews=tuple(make_previews([(png, "image/png")], settings().preview_px)),
    )
    data, metadata = result_bundle(swapped)
    return SimpleNamespace(data=data, metadata=metadata)


def _ipynb_bytes(source: str, outputs: list) -> int:
    """What the outputs add to a notebook file, as Jupyter would write it."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    empty = len(nbformat.writes(notebook).encode())
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("display_data", data=o.data, metadata=o.metadata) for o in outputs
    ]
    return len(nbformat.writes(notebook).encode()) - empty
