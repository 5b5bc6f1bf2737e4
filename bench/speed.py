"""Issue 8, the cell: one image, ``-n 4`` and ``-n 8`` against the raw SDK's single call.

All four run in the same rounds (rotating order). The raw call is the same request nb_banana
sends for a one-image 1K cell: the same prompt, model, modalities and aspect ratio. Every
cell has ``--fresh``, so the store never answers; the store still records each result, as it
does in a notebook.
"""

from __future__ import annotations

from nb_banana.models import resolve_model

from .figure import Figure, against
from .rig import Rig
from .stats import rounds

PROMPT = "a lighthouse on a cliff at dawn, watercolour"


def cell_figures(rig: Rig, repeats: int) -> list[Figure]:
    from google.genai import types

    client = rig.sdk_client()
    model = resolve_model("flash").id
    config = types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1")
    )

    def raw() -> None:
        client.models.generate_content(model=model, contents=PROMPT, config=config)

    def cell(count: int) -> None:
        rig.cell(f"--fresh -n {count}", PROMPT)
        if len(rig.last.outputs) != count or rig.last.cached:
            raise RuntimeError(f"-n {count} gave {len(rig.last.outputs)} images (or a cached one)")

    rig.fresh_store()
    with rig.configured(max_concurrency=4):
        raw(), cell(1)  # warm: connections open, the SDK imported, the store created
        times = rounds(
            {"raw": raw, "n1": lambda: cell(1), "n4": lambda: cell(4), "n8": lambda: cell(8)},
            repeats,
        )
    base = times["raw"]
    latency = f"simulator latency {rig.latency * 1000:.0f} ms"
    return [
        against(
            "cell_1k", 8, "%%banana cell, one 1K image", times["n1"], base, "raw SDK call", 1.05,
            f"run_cell_magic('banana', '--fresh', prompt) in an InteractiveShell under "
            f"capture_output, vs client.models.generate_content for the same request; {latency}",
        ),
        against(
            "variants_n4", 8, "-n 4 variants", times["n4"], base, "one raw SDK call", 1.25,
            f"%%banana --fresh -n 4 (4 calls in flight) vs one raw SDK call; {latency}",
        ),
        against(
            "variants_n8", 8, "-n 8, max_concurrency = 4", times["n8"], base,
            "one raw SDK call", 2.3,
            f"%%banana --fresh -n 8 with Banana.max_concurrency = 4 (two waves) vs one raw SDK "
            f"call; {latency}",
        ),
    ]  # fmt: skip
