"""The model table: one place that knows each Gemini image model's ids, limits and prices.

Every other module (request validation, the simulator, the panel's disabled choices,
cost estimates) reads from here, so adding a model is one entry in ``MODELS``.
Where a figure is not in the API reference it says so in ``ModelSpec.undocumented``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

ASPECT_RATIOS: tuple[str, ...] = (
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
)  # fmt: skip
IMAGE_SIZES: tuple[str, ...] = ("1K", "2K", "4K")
INPUT_MIME_TYPES: tuple[str, ...] = ("image/png", "image/jpeg", "image/webp")
MAX_INPUT_IMAGE_BYTES = 5 * 1024 * 1024
DEFAULT_MODEL = "gemini-2.5-flash-image"

# Pixel sizes per aspect ratio at 1K, as Google's image-generation page lists them.
_FLASH_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
    "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
    "16:9": (1344, 768), "21:9": (1536, 672),
}  # fmt: skip
_GEMINI3_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200),
    "4:3": (1200, 896), "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376),
    "16:9": (1376, 768), "21:9": (1584, 672),
}  # fmt: skip
_SCALE = {"1K": 1, "2K": 2, "4K": 4}


@dataclass(frozen=True)
class ModelSpec:
    """What nb_banana knows of one image model; ``None`` limits mean 'not checked here'."""

    id: str
    name: str
    aliases: tuple[str, ...]
    sizes: tuple[str, ...]
    max_input_images: int
    search: bool
    thinking: bool
    signatures: bool
    # USD: per output image by size, and per million input / text-output tokens.
    image_price: dict[str, float]
    input_price_per_m: float
    text_price_per_m: float
    pixels_1k: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    undocumented: str = ""
    known: bool = True

    @property
    def sends_image_size(self) -> bool:
        """Models with one size take no ``imageSize``; sending one is not documented for them."""
        return len(self.sizes) > 1

    def pixels(self, aspect: str, size: str) -> tuple[int, int]:
        """The (width, height) the model returns for an aspect ratio and size."""
        w, h = (self.pixels_1k or _GEMINI3_1K)[aspect]
        k = _SCALE[size]
        return w * k, h * k

    def price_per_image(self, size: str) -> float:
        return self.image_price.get(size, max(self.image_price.values(), default=0.0))


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="gemini-2.5-flash-image",
        name="Nano Banana",
        aliases=("flash", "nano-banana"),
        sizes=("1K",),
        max_input_images=3,
        search=False,
        thinking=False,
        signatures=False,
        image_price={"1K": 0.039},
        input_price_per_m=0.30,
        text_price_per_m=2.50,
        pixels_1k=_FLASH_1K,
        undocumented="the input-image limit of 3 is Google's guidance, not in the reference",
    ),
    ModelSpec(
        id="gemini-3.1-flash-image-preview",
        name="Nano Banana 2",
        aliases=("flash2", "nano-banana-2"),
        sizes=("1K", "2K", "4K"),
        max_input_images=14,
        search=True,
        thinking=True,
        signatures=True,
        image_price={"1K": 0.067, "2K": 0.101, "4K": 0.151},
        input_price_per_m=0.50,
        text_price_per_m=3.00,
        pixels_1k=_GEMINI3_1K,
        undocumented="sizes, the 14-image limit, search and prices come from public code, "
        "not the reference",
    ),
    ModelSpec(
        id="gemini-3-pro-image-preview",
        name="Nano Banana Pro",
        aliases=("pro", "nano-banana-pro"),
        sizes=("1K", "2K", "4K"),
        max_input_images=14,
        search=True,
        thinking=True,
        signatures=True,
        image_price={"1K": 0.134, "2K": 0.134, "4K": 0.24},
        input_price_per_m=2.00,
        text_price_per_m=12.00,
        pixels_1k=_GEMINI3_1K,
        undocumented="per-size prices are Google's published list prices, not in the reference",
    ),
)

_BY_NAME: dict[str, ModelSpec] = {key: spec for spec in MODELS for key in (spec.id, *spec.aliases)}


class UnknownModel(ValueError):
    """A model name that is neither a known id, an alias, nor a ``gemini-`` id."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.choices = sorted(_BY_NAME)
        close = difflib.get_close_matches(name, self.choices, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        super().__init__(
            f"Unknown model '{name}'.{hint} Choose one of: {', '.join(self.choices)}"
            " (or any full 'gemini-…' model id)."
        )


def resolve_model(name: str) -> ModelSpec:
    """Map an id or alias to its spec; an unknown ``gemini-…`` id passes with unchecked limits."""
    key = name.strip()
    if key.lower() in _BY_NAME:
        return _BY_NAME[key.lower()]
    if key.startswith("gemini-") and key.replace("-", "").replace(".", "").isalnum():
        return ModelSpec(
            id=key,
            name=key,
            aliases=(),
            sizes=IMAGE_SIZES,
            max_input_images=14,
            search=True,
            thinking=True,
            signatures=True,
            image_price={"1K": 0.134, "2K": 0.134, "4K": 0.24},
            input_price_per_m=2.00,
            text_price_per_m=12.00,
            undocumented="not in nb_banana's model table: its limits are not checked and "
            "its cost is estimated at Pro prices",
            known=False,
        )
    raise UnknownModel(name)
