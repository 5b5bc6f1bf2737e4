"""Issue 8, replies: from the SDK's responses to a displayed result, for four 2K images.

Four ``-m pro -s 2K`` replies are fetched once from the simulator (four prompts, so four
different pictures). Timed: what nb_banana does once the SDK has handed them over
(``wire.parse_reply`` for each, the previews, a ``Result``, IPython's display formatter on
it), against the least any display must do: decode the four PNGs with Pillow.
"""

from __future__ import annotations

import io

from PIL import Image

from nb_banana.answer.previews import make_previews
from nb_banana.answer.result import Result
from nb_banana.context import settings
from nb_banana.gemini import wire
from nb_banana.gemini.models import resolve_model
from nb_banana.gemini.request import build_request

from .figure import Figure, against
from .rig import Rig
from .stats import rounds


def replies_figure(rig: Rig, repeats: int) -> Figure:
    from google.genai import types

    client = rig.sdk_client()
    config = types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=types.ImageConfig(aspect_ratio="1:1", image_size="2K"),
    )
    model = resolve_model("pro").id
    responses = [
        client.models.generate_content(model=model, contents=f"harbour at dusk, take {i}",
                                       config=config)
        for i in range(1, 5)
    ]  # fmt: skip
    pngs = [wire.parse_reply(r).images[0].data for r in responses]
    request = build_request(["harbour at dusk"], model="pro", aspect="1:1", size="2K", count=4)
    formatter = rig.shell.display_formatter

    def shown() -> None:
        replies = tuple(wire.parse_reply(r) for r in responses)
        outs = [(image.data, image.mime_type) for reply in replies for image in reply.images]
        previews = tuple(make_previews(outs, settings().preview_px))
        data, _ = formatter.format(Result(request, replies, 0.0, previews=previews))
        if "text/html" not in data:
            raise RuntimeError("the result displayed without its HTML")

    def decoded() -> None:
        for png in pngs:
            with Image.open(io.BytesIO(png)) as image:
                image.load()

    shown()
    times = rounds({"decode": decoded, "shown": shown}, repeats)
    return against(
        "replies_4x2k", 8, "parse + display four 2K images", times["shown"], times["decode"],
        "Pillow decodes the 4 pictures", 1.5,
        "wire.parse_reply ×4 + make_previews + Result + shell.display_formatter.format, from "
        "the SDK's GenerateContentResponse objects, vs Image.open(...).load() of the 4 PNGs",
        png_bytes=[len(p) for p in pngs],
    )  # fmt: skip
