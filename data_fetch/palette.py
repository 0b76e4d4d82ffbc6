"""One colour per class for drawing masks, the same in both lessons and in ``data_fetch``.

The colours are those CARLA gives its semantic-segmentation camera's 13 tags (the same tags, in the same
order, as this dataset's class ids), from the "Semantic segmentation camera" table of the CARLA documentation
(the last release with exactly these 13 tags; later releases add tags and recolour fences and "other"):
https://carla.readthedocs.io/en/0.9.9/ref_sensors/#semantic-segmentation-camera
They keep roads and road lines, and none and traffic signs, clearly apart (a cut-down ``tab20`` did not).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .labels import CLASS_NAMES, N_CLASSES

if TYPE_CHECKING:
    from matplotlib.colors import ListedColormap

CLASS_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),        # 0 none (CARLA: Unlabeled)
    (70, 70, 70),     # 1 buildings
    (190, 153, 153),  # 2 fences
    (250, 170, 160),  # 3 other
    (220, 20, 60),    # 4 pedestrians
    (153, 153, 153),  # 5 poles
    (157, 234, 50),   # 6 road lines
    (128, 64, 128),   # 7 roads
    (244, 35, 232),   # 8 sidewalks
    (107, 142, 35),   # 9 vegetation
    (0, 0, 142),      # 10 vehicles
    (102, 102, 156),  # 11 walls
    (220, 220, 0),    # 12 traffic signs
)
"""RGB (0-255) of each class; the position is the class id, as in ``CLASS_NAMES``."""

_TABLE = np.array(CLASS_COLORS, dtype=np.uint8)

__all__ = ["CLASS_COLORS", "CLASS_NAMES", "N_CLASSES", "colorize", "colormap"]


def colormap() -> ListedColormap:
    """A matplotlib colormap with one entry per class; draw a mask with
    ``imshow(mask, cmap=colormap(), vmin=-0.5, vmax=N_CLASSES - 0.5, interpolation="nearest")``."""
    from matplotlib.colors import ListedColormap  # imported here: data_fetch itself does not need matplotlib

    return ListedColormap(_TABLE / 255.0, name="carla", N=N_CLASSES)


def colorize(mask: np.ndarray) -> np.ndarray:
    """The RGB picture (uint8, shape ``mask.shape + (3,)``) of a mask of class ids 0-12.

    Raises ValueError naming the first id outside 0-12, rather than drawing it in a wrong colour.
    """
    ids = np.asarray(mask)
    if not np.issubdtype(ids.dtype, np.integer):
        if not np.all(np.isfinite(ids)) or not np.array_equal(ids, np.round(ids)):
            raise ValueError("mask must hold whole class ids 0-12")
        ids = ids.astype(np.int64)
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= N_CLASSES):
        bad = int(ids[(ids < 0) | (ids >= N_CLASSES)].flat[0])
        raise ValueError(f"mask holds class id {bad}; ids must be 0-{N_CLASSES - 1}")
    return _TABLE[ids]
