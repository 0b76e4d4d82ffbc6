"""The class palette: 13 clearly distinct colours, a colormap and colorize that agree."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from data_fetch import CLASS_NAMES
from data_fetch.palette import CLASS_COLORS, colorize, colormap


def _lab(rgb: object) -> np.ndarray:
    """CIE L*a*b* of sRGB colours (0-255), where a distance of about 2 is just noticeable."""
    c = np.asarray(rgb, dtype=float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = c @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def test_one_clearly_distinct_colour_per_class() -> None:
    assert len(CLASS_COLORS) == len(CLASS_NAMES) == 13
    assert all(len(rgb) == 3 and all(0 <= c <= 255 for c in rgb) for rgb in CLASS_COLORS)
    lab = _lab(CLASS_COLORS)
    for a, b in itertools.combinations(range(13), 2):
        assert np.linalg.norm(lab[a] - lab[b]) > 12, (CLASS_NAMES[a], CLASS_NAMES[b])


def test_the_pairs_the_issue_names_look_different() -> None:
    lab = dict(zip(CLASS_NAMES, _lab(CLASS_COLORS)))
    assert np.linalg.norm(lab["roads"] - lab["road lines"]) > 40
    assert np.linalg.norm(lab["none"] - lab["traffic signs"]) > 40


def test_colorize_and_colormap_agree() -> None:
    mask = np.arange(13).reshape(1, 13)
    rgb = colorize(mask)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 13, 3)
    assert [tuple(int(c) for c in pixel) for pixel in rgb[0]] == list(CLASS_COLORS)
    cmap = colormap()
    assert cmap.N == 13
    np.testing.assert_allclose(cmap(np.arange(13))[:, :3] * 255, np.array(CLASS_COLORS), atol=1e-6)


@pytest.mark.parametrize("mask", [np.array([[13]]), np.array([[-1]]), np.array([[0.5]])])
def test_colorize_refuses_ids_outside_the_label_set(mask: np.ndarray) -> None:
    with pytest.raises(ValueError):
        colorize(mask)
