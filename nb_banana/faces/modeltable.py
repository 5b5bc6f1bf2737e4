"""``%banana models`` as Markdown: the table's facts, then what the API's own list adds."""

from __future__ import annotations

from ..gemini.models import ASPECT_RATIOS, CLASSIC_RATIOS, MODELS, TABLE_CHECKED, ModelSpec
from ..gemini.usage import format_usd
from ..turns.catalog import Catalog

_HEAD = (
    "| model | name | aliases | status | sizes | ratios | search | thinking | price per image |",
    "|---|---|---|---|---|---|---|---|---|",
)


def models_markdown(catalog: Catalog | None) -> str:
    """The table, a line on how fresh it is, and the API's view (or why there is none)."""
    rows = [_row(spec) for spec in MODELS]
    lines = [*_HEAD, *rows, "", _freshness(), "", *_api_lines(catalog)]
    return "\n".join(lines).rstrip() + "\n"


def _row(spec: ModelSpec) -> str:
    status = spec.state()
    if spec.is_shut_down() and spec.replacement:
        status += f" → `{spec.replacement}`"
    cells = [
        f"`{spec.id}`",
        spec.name,
        ", ".join(spec.aliases) or "—",
        status,
        " ".join(spec.sizes),
        _ratios(spec.aspects),
        ", ".join(spec.search) or "—",
        " / ".join(spec.thinking_levels) or ("always on" if spec.thinking else "—"),
        " · ".join(f"{size} {format_usd(spec.price_per_image(size))}" for size in spec.sizes),
    ]
    return "| " + " | ".join(cells) + " |"


def _ratios(aspects: tuple[str, ...]) -> str:
    if aspects == ASPECT_RATIOS:
        return "all 14 (with 1:4 4:1 1:8 8:1)"
    if aspects == CLASSIC_RATIOS:
        return "the classic 10"
    return " ".join(aspects)


def _freshness() -> str:
    return (
        f"Table checked {TABLE_CHECKED}; prices are Google's list prices as read then "
        "(estimates, not a bill). A model newer than the table works by its full id: "
        "`-m gemini-…`."
    )


def _api_lines(catalog: Catalog | None) -> list[str]:
    if catalog is None:
        return [
            "No API key is set, so this is nb_banana's table only: set GEMINI_API_KEY (or "
            "run `%banana key`) to compare it with the API's own list."
        ]
    if catalog.error:
        return [f"Could not ask the API for its model list ({catalog.error}); the table above "
                "is nb_banana's own."]  # fmt: skip
    lines = [f"The API at {catalog.endpoint} lists {len(catalog.listed)} image models."]
    for spec in catalog.unlisted():
        lines.append(
            f"- ⚠️ `{spec.id}` ({spec.name}) is in the table but the API does not list it: "
            "it may have been retired; a call to it will likely answer 404."
        )
    for listed in catalog.unknown():
        lines.append(
            f"- 🆕 `{listed.id}` ({listed.name}) is listed by the API but not in the table: "
            f"use it with `-m {listed.id}` (its limits are not checked, its cost is estimated "
            "at Pro prices)."
        )
    return lines
