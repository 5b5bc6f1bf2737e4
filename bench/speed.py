"""Issue 8, the cell: one image, ``-n 4`` and ``-n 8`` against the raw SDK's single call.

All run in the same rounds (rotating order). The raw call is the same request nb_banana
sends for a one-image 1K cell: the same prompt, model, modalities and aspect ratio. Every
cell has ``--fresh``, so the store never answers; the store still records each result, as it
does in a notebook.

The simulator renders its pictures on this machine's two cores, in this process, so four
replies at once cost it more than one; the real API renders elsewhere. To show how much of
``-n 4`` and ``-n 8`` is that, the same rounds also time the SDK alone making 4 and 8 calls
(``client.aio``, at most 4 in flight): the floor any client would hit on this rig.
"""

from __future__ import annotations

import asyncio

from nb_banana.gemini.models import resolve_model

from .figure import Figure, against
from .rig import Rig
from .stats import rounds

PROMPT = "a lighthouse on a cliff at dawn, watercolour"


def cell_figures(rig: Rig, repeats: int) -> list[Figure]:
    from google.genai import types

    client = rig.sdk_client()
    model = resolve_model("lite").id
    config = types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1")
    )

    def raw() -> None:
        client.models.generate_content(model=model, contents=PROMPT, config=config)

    loop = asyncio.new_event_loop()

    async def sdk_calls(count: int) -> None:
        limit = asyncio.Semaphore(4)

        async def one() -> None:
            async with limit:
                await client.aio.models.generate_content(
                    model=model, contents=PROMPT, config=config
                )

        await asyncio.gather(*(one() for _ in range(count)))

    def cell(count: int) -> None:
        rig.cell(f"--fresh -n {count}", PROMPT)
        if len(rig.last.outputs) != count or rig.last.cached:
            raise RuntimeError(f"-n {count} gave {len(rig.last.outputs)} images (or a cached one)")

    rig.fresh_store()
    with rig.configured(max_concurrency=4):
        # Warm-up: connections open, the SDK imported, the store created.
        raw()
        cell(1)
        loop.run_until_complete(sdk_calls(4))
        times = rounds(
            {
                "raw": raw,
                "n1": lambda: cell(1),
                "n4": lambda: cell(4),
                "n8": lambda: cell(8),
                "sdk4": lambda: loop.run_until_complete(sdk_calls(4)),
                "sdk8": lambda: loop.run_until_complete(sdk_calls(8)),
            },
            repeats,
        )
    loop.close()
    base = times["raw"]
    latency = f"simulator latency {rig.latency * 1000:.0f} ms"

    def floor(key: str) -> dict[str, object]:
        """The SDK alone, same calls and cap: its ratio, and nb_banana's share on top."""
        sdk, ours = times[f"sdk{key}"], times[f"n{key}"]
        ratio = sdk.median / base.median
        return {"aside": f"SDK alone {ratio:.2f}×", "sdk_alone": sdk.to_json(),
                "sdk_alone_ratio": ratio, "over_sdk_alone": ours.median / sdk.median}  # fmt: skip

    return [
        against(
            "cell_1k", 8, "%%banana cell, one 1K image", times["n1"], base, "raw SDK call", 1.05,
            f"run_cell_magic('banana', '--fresh', prompt) in an InteractiveShell under "
            f"capture_output, vs client.models.generate_content for the same request; {latency}",
        ),
        against(
            "variants_n4", 8, "-n 4 variants", times["n4"], base, "one raw SDK call", 1.25,
            f"%%banana --fresh -n 4 (4 calls in flight) vs one raw SDK call; {latency}",
            **floor("4"),
        ),
        against(
            "variants_n8", 8, "-n 8, max_concurrency = 4", times["n8"], base,
            "one raw SDK call", 2.3,
            f"%%banana --fresh -n 8 with Banana.max_concurrency = 4 (two waves) vs one raw SDK "
            f"call; {latency}",
            **floor("8"),
        ),
    ]  # fmt: skip
