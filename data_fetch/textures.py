"""Noise fields, palettes and lighting for the synthetic scenes (all vectorised NumPy)."""
from __future__ import annotations

import numpy as np
from PIL import Image

Colour = np.ndarray  # float32 array of shape (3,), values 0-255


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """A zero-mean, unit-scale noise field of shape (height, width) that varies over about ``cell`` pixels."""
    rows = max(2, int(height / cell) + 2)
    cols = max(2, int(width / cell) + 2)
    grid = rng.standard_normal((rows, cols), dtype=np.float32)
    field = Image.fromarray(grid).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(field, dtype=np.float32)


def jitter(rng: np.random.Generator, colour: tuple[float, float, float], spread: float) -> Colour:
    """``colour`` with every channel moved by up to ``spread`` levels, clipped to 0-255."""
    base = np.asarray(colour, dtype=np.float32) + rng.uniform(-spread, spread, 3).astype(np.float32)
    return np.clip(base, 0, 255)


def grey(rng: np.random.Generator, low: float, high: float, tint: float = 6.0) -> Colour:
    """A grey of random brightness between ``low`` and ``high`` with a slight random tint."""
    level = rng.uniform(low, high)
    return jitter(rng, (level, level, level), tint)


FACADE_PALETTE: tuple[tuple[float, float, float], ...] = (
    (150, 150, 150), (120, 118, 115), (185, 180, 170), (170, 150, 120), (140, 80, 60),
    (110, 70, 55), (200, 195, 180), (95, 100, 110), (160, 165, 175), (130, 125, 100),
)
"""Building and wall colours: greys, beiges and bricks that overlap with roads, sidewalks and cars."""

PAINT_PALETTE: tuple[tuple[float, float, float], ...] = (
    (200, 200, 205), (30, 30, 35), (120, 120, 125), (160, 20, 25), (20, 50, 130), (40, 90, 50),
    (220, 200, 60), (90, 60, 40), (230, 120, 30), (75, 80, 90), (140, 160, 180), (100, 20, 80),
)
"""Car paints and clothes: any colour, including road greys and vegetation greens."""

GREENS: tuple[tuple[float, float, float], ...] = (
    (60, 100, 45), (40, 80, 35), (90, 120, 50), (110, 115, 55), (50, 70, 40), (130, 120, 60),
)


def pick(rng: np.random.Generator, palette: tuple[tuple[float, float, float], ...], spread: float) -> Colour:
    """A random palette entry, jittered by up to ``spread`` levels per channel."""
    return jitter(rng, palette[int(rng.integers(len(palette)))], spread)


def sky_colours(rng: np.random.Generator) -> tuple[Colour, Colour]:
    """(zenith, horizon) colours for clear, overcast, hazy or evening skies."""
    kind = rng.integers(4)
    if kind == 0:  # clear blue
        return jitter(rng, (70, 120, 200), 20), jitter(rng, (170, 200, 230), 20)
    if kind == 1:  # overcast: greys as bright as buildings and sidewalks
        top = grey(rng, 120, 190)
        return top, np.clip(top + rng.uniform(5, 30), 0, 255)
    if kind == 2:  # haze
        return jitter(rng, (150, 165, 180), 15), jitter(rng, (200, 200, 195), 15)
    return jitter(rng, (80, 90, 150), 20), jitter(rng, (230, 160, 100), 25)  # evening


def apply_lighting(rgb: np.ndarray, rng: np.random.Generator, shadow: np.ndarray | None) -> np.ndarray:
    """Exposure, colour cast, cast shadows and sensor noise, in place on a float image; returns uint8."""
    height, width, _ = rgb.shape
    if shadow is not None:
        rgb *= (1.0 - shadow * rng.uniform(0.35, 0.6))[..., None]
    gain = rng.uniform(0.6, 1.3) * (1.0 + rng.uniform(-0.08, 0.08, 3)).astype(np.float32)
    rgb *= gain.astype(np.float32)
    rgb += rng.uniform(-12, 12)
    # Slow brightness changes across the frame (clouds, vignetting) and grain.
    rgb *= (1.0 + 0.12 * smooth_noise(rng, height, width, width / 3))[..., None]
    rgb += rng.uniform(0.8, 2.5) * rng.standard_normal((height, width, 1), dtype=np.float32)
    np.clip(rgb, 0, 255, out=rgb)
    return rgb.astype(np.uint8)
