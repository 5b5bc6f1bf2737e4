"""Tokens and the estimated dollars they cost, per call and added up."""

from __future__ import annotations

from dataclasses import dataclass

from .models import BATCH_PRICE, ModelSpec

# Rough tokens per input image, used only for dry-run estimates before a reply says better.
_INPUT_IMAGE_TOKENS = 560


@dataclass(frozen=True)
class Usage:
    """The reply's ``usageMetadata``, summed over the samples of one call."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    thought_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.output_tokens + other.output_tokens,
            self.thought_tokens + other.thought_tokens,
            self.total_tokens + other.total_tokens,
        )


def cost(spec: ModelSpec, usage: Usage, n_images: int, size: str, *, batch: bool = False) -> float:
    """Estimated USD: images at the model's per-image price, plus input and thinking tokens;
    ``batch``: answered by a Batch API job, billed at ``BATCH_PRICE`` of the live price."""
    live = (
        n_images * spec.price_per_image(size)
        + usage.prompt_tokens * spec.input_price_per_m / 1e6
        + usage.thought_tokens * spec.text_price_per_m / 1e6
    )
    return live * BATCH_PRICE if batch else live


def estimate_before(
    spec: ModelSpec, text: str, n_input_images: int, count: int, size: str, *, batch: bool = False
) -> float:
    """What a call will cost at most roughly, before it is sent (dry runs, budgets, batches)."""
    prompt_tokens = len(text) // 4 + n_input_images * _INPUT_IMAGE_TOKENS
    return count * cost(spec, Usage(prompt_tokens=prompt_tokens), 1, size, batch=batch)


def format_usd(value: float) -> str:
    return f"${value:.3f}" if value < 10 else f"${value:,.2f}"
