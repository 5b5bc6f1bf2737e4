"""Photo-like test pictures: what a user's reference arrays and a model's images look like.

A flat or random image would flatter or punish the encoders: a flat one compresses to
nothing, pure noise not at all. Photos are smooth shading with soft shapes plus sensor
noise, so that is what these are: a diagonal colour gradient, a low-frequency pattern of
soft light and shadow, and Gaussian noise of σ = 6 grey levels, all seeded (the same
arrays every run).
"""

from __future__ import annotations

import numpy as np

NOISE_SIGMA = 6.0
# Noise comes from one tile repeated across the picture: generating it per pixel dominates
# the setup at 4096², and neither deflate's 32 KB window nor JPEG's 8×8 blocks can exploit
# a period this long.
_TILE = 512

DESCRIPTION = (
    "uint8 RGB, H×W×3: diagonal colour gradient + low-frequency soft shapes "
    f"+ Gaussian noise σ = {NOISE_SIGMA:g} (seeded)"
)


def photo_like(size: int, seed: int) -> np.ndarray:
    """A ``size``×``size``×3 uint8 array; each seed gives other colours, shapes and noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    x, y = ramp[None, :], ramp[:, None]
    shapes = np.sin(2 * np.pi * (rng.uniform(1, 3) * x + rng.uniform())) * np.cos(
        2 * np.pi * (rng.uniform(1, 3) * y + rng.uniform())
    )
    tile = min(_TILE, size)
    noise = rng.normal(0.0, NOISE_SIGMA, (tile, tile, 3)).astype(np.float32)
    reps = -(-size // tile)
    out = np.empty((size, size, 3), dtype=np.uint8)
    for channel in range(3):
        low, high, weight = rng.uniform(20, 90), rng.uniform(160, 235), rng.uniform(0.2, 0.8)
        shade = low + (high - low) * (weight * x + (1 - weight) * y) + 30.0 * shapes
        grain = np.tile(noise[:, :, channel], (reps, reps))[:size, :size]
        np.clip(shade + grain, 0, 255, out=shade)
        out[:, :, channel] = shade
    return out
