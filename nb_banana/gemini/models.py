"""The model table: one place that knows each Gemini image model's ids, life, limits and prices.

Every other module (request validation, the simulator, the panel's choices, cost estimates,
``%banana models``) reads from here, so adding a model is one entry in ``MODELS``. Models
come and go: each entry carries its release and shutdown dates and its replacement, a
shut-down id is sent to its replacement with a note (``live_model``), and the API's own
list (``catalog.py``) is the final word on what exists today. Where a figure is not in
Google's pages it says so in ``ModelSpec.undocumented``.

Source of every fact here: ../shared/API_NOTES.md, "The models as the API stands in December
2026" (Google's models, pricing and deprecations pages), checked on ``TABLE_CHECKED``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from datetime import date

TABLE_CHECKED = date(2026, 12, 2)

CLASSIC_RATIOS: tuple[str, ...] = (
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
)  # fmt: skip
EXTREME_RATIOS: tuple[str, ...] = ("1:4", "4:1", "1:8", "8:1")
ASPECT_RATIOS: tuple[str, ...] = CLASSIC_RATIOS + EXTREME_RATIOS
IMAGE_SIZES: tuple[str, ...] = ("512", "1K", "2K", "4K")
THINKING_LEVELS: tuple[str, ...] = ("minimal", "high")
SEARCH_KINDS: tuple[str, ...] = ("web", "image")
INPUT_MIME_TYPES: tuple[str, ...] = ("image/png", "image/jpeg", "image/webp")
MAX_INPUT_IMAGE_BYTES = 5 * 1024 * 1024
# The Batch API's terms (API_NOTES, read on TABLE_CHECKED): half the live price, and
# inlined requests up to 20 MB in total per job (a bigger run is split into several).
BATCH_PRICE = 0.5
BATCH_INLINE_BYTES = 20_000_000
# The size the API makes when a request names none (Google's image-generation page: 1K), what
# an unset size is priced and drawn at. An unset ratio is the model's own choice: the input
# image's shape for an edit, else square (the same page).
API_DEFAULT_SIZE = "1K"
# What one generateContent request may carry inline, base64 included: 100 MB since
# 2026-01-12 (Google's developer blog, "Increased file size limits and expanded inputs
# support in Gemini API"; ../shared/REAL_REPLIES.md), 20 MB before.
INLINE_REQUEST_BYTES = 100_000_000

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
    # The four extreme ratios keep about a megapixel; Google's table was not at hand here.
    "1:4": (512, 2048), "4:1": (2048, 512), "1:8": (384, 3072), "8:1": (3072, 384),
}  # fmt: skip
_SCALE = {"512": 0.5, "1K": 1, "2K": 2, "4K": 4}


@dataclass(frozen=True)
class ModelSpec:
    """What nb_banana knows of one image model; ``known=False`` means 'not checked here'.

    ``status`` is what Google calls the model (stable or preview); whether it is shut down
    depends on the day, so ask ``is_shut_down`` or ``state``.
    """

    id: str
    name: str
    aliases: tuple[str, ...]
    status: str
    released: date | None
    shutdown: date | None
    replacement: str | None
    sizes: tuple[str, ...]
    aspects: tuple[str, ...]
    thinking_levels: tuple[str, ...]  # what ``--thinking`` may choose; () = not settable
    thinking: bool  # has thought summaries (``--thoughts``)
    search: tuple[str, ...]  # the Google Search kinds it grounds with: web, image
    max_input_images: int
    signatures: bool
    batch: bool
    # USD: per output image by size, and per million input / thinking-output tokens.
    image_price: dict[str, float]
    input_price_per_m: float
    text_price_per_m: float
    prices_read: date | None
    pixels_1k: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    undocumented: str = ""
    known: bool = True

    @property
    def sends_image_size(self) -> bool:
        """Models with one size take no ``imageSize``; sending one is not documented for them."""
        return len(self.sizes) > 1

    def is_shut_down(self, today: date | None = None) -> bool:
        return self.shutdown is not None and self.shutdown <= (today or _today())

    def state(self, today: date | None = None) -> str:
        """``stable``, ``preview``, or ``shut down`` (with the date) as of ``today``."""
        if self.is_shut_down(today):
            return f"shut down {self.shutdown}"
        if self.shutdown is not None:
            return f"{self.status}, shuts down {self.shutdown}"
        return self.status

    def pixels(self, aspect: str, size: str) -> tuple[int, int]:
        """The (width, height) the model returns for an aspect ratio and size."""
        w, h = (self.pixels_1k or _GEMINI3_1K)[aspect or "1:1"]
        k = _SCALE[size or API_DEFAULT_SIZE]
        return int(w * k), int(h * k)

    def price_per_image(self, size: str) -> float:
        size = size or API_DEFAULT_SIZE
        return self.image_price.get(size, max(self.image_price.values(), default=0.0))


def nearest_ratio(width: int, height: int) -> str:
    """The listed aspect ratio closest to a picture's shape (on a log scale, so 2:1 is as
    far from 1:1 as 1:2 is), to name the shape a model chose."""
    if width <= 0 or height <= 0:
        return ""

    def distance(ratio: str) -> float:
        w, h = (int(n) for n in ratio.split(":"))
        return abs(math.log((width / height) / (w / h)))

    return min(ASPECT_RATIOS, key=distance)


def describe_shape(aspect: str, width: int, height: int) -> str:
    """What came back, and who chose it: ``16:9 · 1376×768`` when a ratio was asked,
    ``1408×768 (≈16:9, model's choice)`` when none was, so nothing claims a ratio that
    nobody asked for."""
    size = f"{width}×{height}"
    if aspect:
        return f"{aspect} · {size}"
    return f"{size} (≈{nearest_ratio(width, height)}, model's choice)"


def _today() -> date:
    """The day whose models are live: today, except in tests that replay an earlier day."""
    return date.today()


_LITE = ModelSpec(
    id="gemini-3.1-flash-lite-image",
    name="Nano Banana 2 Lite",
    aliases=("lite", "nano-banana-2-lite"),
    status="stable",
    released=date(2026, 6, 30),
    shutdown=None,
    replacement=None,
    sizes=("1K",),
    aspects=ASPECT_RATIOS,
    thinking_levels=THINKING_LEVELS,
    thinking=True,
    search=(),
    max_input_images=14,
    signatures=True,
    batch=True,
    image_price={"1K": 0.034},
    input_price_per_m=0.25,
    text_price_per_m=1.50,
    prices_read=TABLE_CHECKED,
    pixels_1k=_GEMINI3_1K,
    undocumented="the $0.034 price is quoted by third-party pages, unverified; the "
    "14-image reference limit and the token prices are not documented (Nano Banana 2's "
    "limit, half its token prices)",
)
_FLASH = ModelSpec(
    id="gemini-3.1-flash-image",
    name="Nano Banana 2",
    aliases=("flash", "flash2", "nano-banana-2"),
    status="stable",
    released=date(2026, 5, 28),
    shutdown=None,
    replacement=None,
    sizes=IMAGE_SIZES,
    aspects=ASPECT_RATIOS,
    thinking_levels=THINKING_LEVELS,
    thinking=True,
    search=SEARCH_KINDS,
    max_input_images=14,
    signatures=True,
    batch=True,
    image_price={"512": 0.045, "1K": 0.067, "2K": 0.101, "4K": 0.151},
    input_price_per_m=0.50,
    text_price_per_m=3.00,
    prices_read=TABLE_CHECKED,
    pixels_1k=_GEMINI3_1K,
    undocumented="pixel sizes at 512 and for 1:4, 4:1, 1:8, 8:1 are estimates; token "
    "prices are the preview's",
)
_PRO = ModelSpec(
    id="gemini-3-pro-image",
    name="Nano Banana Pro",
    aliases=("pro", "nano-banana-pro"),
    status="stable",
    released=date(2026, 5, 28),
    shutdown=None,
    replacement=None,
    sizes=("1K", "2K", "4K"),
    aspects=CLASSIC_RATIOS,
    thinking_levels=(),
    thinking=True,
    search=("web",),
    max_input_images=14,
    signatures=True,
    batch=True,
    image_price={"1K": 0.134, "2K": 0.134, "4K": 0.24},
    input_price_per_m=2.00,
    text_price_per_m=12.00,
    prices_read=TABLE_CHECKED,
    pixels_1k=_GEMINI3_1K,
    undocumented="whether it takes 1:4, 4:1, 1:8 and 8:1 is not documented (refused "
    "here); thinking is always on and its level is not settable; token prices are the "
    "preview's",
)
# Shut down: kept so that old notebooks, settings and chats find their replacement. The
# previews were their stable successors before these gained sizes, ratios and image search.
_PRO_PREVIEW = replace(
    _PRO,
    id="gemini-3-pro-image-preview",
    name="Nano Banana Pro (preview)",
    aliases=(),
    status="preview",
    released=date(2025, 11, 20),
    shutdown=date(2026, 6, 25),
    replacement=_PRO.id,
    batch=False,
    prices_read=date(2025, 12, 1),
    undocumented="release date from Google's launch post, not rechecked here",
)
_FLASH_PREVIEW = replace(
    _FLASH,
    id="gemini-3.1-flash-image-preview",
    name="Nano Banana 2 (preview)",
    aliases=(),
    status="preview",
    released=date(2026, 2, 26),
    shutdown=date(2026, 6, 25),
    replacement=_FLASH.id,
    sizes=("1K", "2K", "4K"),
    aspects=CLASSIC_RATIOS,
    thinking_levels=(),
    search=("web",),
    batch=False,
    image_price={"1K": 0.067, "2K": 0.101, "4K": 0.151},
    prices_read=date(2026, 3, 1),
    undocumented="release date from Google's launch post, not rechecked here",
)
_NANO_BANANA = ModelSpec(
    id="gemini-2.5-flash-image",
    name="Nano Banana",
    aliases=("nano-banana",),
    status="stable",
    released=date(2025, 10, 2),
    shutdown=date(2026, 10, 2),
    replacement="gemini-3.1-flash-image",
    sizes=("1K",),
    aspects=CLASSIC_RATIOS,
    thinking_levels=(),
    thinking=False,
    search=(),
    max_input_images=3,
    signatures=False,
    batch=False,
    image_price={"1K": 0.039},
    input_price_per_m=0.30,
    text_price_per_m=2.50,
    prices_read=date(2025, 10, 2),
    pixels_1k=_FLASH_1K,
    undocumented="the deprecations page says 'earliest October 2026'; the migration "
    "notes give 2 October",
)

MODELS: tuple[ModelSpec, ...] = (_LITE, _FLASH, _PRO, _PRO_PREVIEW, _FLASH_PREVIEW, _NANO_BANANA)

_BY_NAME: dict[str, ModelSpec] = {key: spec for spec in MODELS for key in (spec.id, *spec.aliases)}


def current_models(today: date | None = None) -> tuple[ModelSpec, ...]:
    """The table's models that still answer, in the table's order (cheapest first)."""
    return tuple(spec for spec in MODELS if not spec.is_shut_down(today))


def default_model(today: date | None = None) -> ModelSpec:
    """The policy for the default: the cheapest current stable model, priced at 1K.

    A new notebook should cost the least until its author asks for more.
    """
    stable = [m for m in current_models(today) if m.status == "stable"]
    return min(stable, key=lambda m: m.price_per_image("1K"))


DEFAULT_MODEL = default_model().id


class UnknownModel(ValueError):
    """A model name that is neither a known id, an alias, nor a ``gemini-`` id."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.choices = sorted({a for m in current_models() for a in (m.id, *m.aliases)})
        close = difflib.get_close_matches(name, sorted(_BY_NAME), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        super().__init__(
            f"Unknown model '{name}'.{hint} Choose one of: {', '.join(self.choices)}"
            " (or any full 'gemini-…' model id; %banana models lists them)."
        )


def resolve_model(name: str) -> ModelSpec:
    """Map an id or alias to its spec, shut-down ones included; an unknown ``gemini-…`` id
    passes with unchecked limits, so a model newer than this table works at once."""
    key = name.strip()
    if key.lower() in _BY_NAME:
        return _BY_NAME[key.lower()]
    if key.startswith("gemini-") and key.replace("-", "").replace(".", "").isalnum():
        return unlisted_model(key)
    raise UnknownModel(name)


def unlisted_model(model_id: str, name: str = "") -> ModelSpec:
    """A model the table does not know: everything allowed, priced as the dearest we know."""
    return ModelSpec(
        id=model_id,
        name=name or model_id,
        aliases=(),
        status="unknown",
        released=None,
        shutdown=None,
        replacement=None,
        sizes=IMAGE_SIZES,
        aspects=ASPECT_RATIOS,
        thinking_levels=THINKING_LEVELS,
        thinking=True,
        search=SEARCH_KINDS,
        max_input_images=14,
        signatures=True,
        batch=True,
        image_price={"512": 0.134, "1K": 0.134, "2K": 0.134, "4K": 0.24},
        input_price_per_m=2.00,
        text_price_per_m=12.00,
        prices_read=None,
        undocumented="not in nb_banana's model table: its limits are not checked and "
        "its cost is estimated at Pro prices",
        known=False,
    )


def live_model(name: str, today: date | None = None) -> tuple[ModelSpec, str]:
    """The model a call goes to: ``name``'s, or its replacement's if it was shut down.

    Returns the spec and a one-line note ("" when nothing was replaced), so an old notebook
    or chat keeps working and says why its model changed.
    """
    asked = spec = resolve_model(name)
    while spec.is_shut_down(today) and spec.replacement:
        spec = resolve_model(spec.replacement)
    if spec is asked:
        return spec, ""
    return spec, f"{asked.id} was shut down on {asked.shutdown}; using {spec.id}."
