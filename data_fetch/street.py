"""The street's lateral layout (road, sidewalks, building lines) shared by the scene painters and the objects.

Kept apart from ``scenes`` (which paints the layout) and ``objects`` (which scatters things over it) so that
both can use it without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Street:
    """Lateral layout in metres (camera at x=0, negative is left)."""

    road_left: float
    road_right: float
    walk_left: float  # outer edge of the left sidewalk
    walk_right: float
    facade_left: float
    facade_right: float


def make_street(rng: np.random.Generator) -> Street:
    """Road, sidewalks and building lines, with the camera somewhere on the road."""
    road_left = -rng.uniform(1.8, 9.0)
    road_right = rng.uniform(1.8, 9.0)
    walk_left = road_left - rng.uniform(1.5, 5.0)
    walk_right = road_right + rng.uniform(1.5, 5.0)
    return Street(road_left, road_right, walk_left, walk_right,
                  walk_left - rng.uniform(0.0, 6.0), walk_right + rng.uniform(0.0, 6.0))
