"""The CARLA label set: class ids 0-12 as stored in the red channel of every mask."""
from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = (
    "none",
    "buildings",
    "fences",
    "other",
    "pedestrians",
    "poles",
    "road lines",
    "roads",
    "sidewalks",
    "vegetation",
    "vehicles",
    "walls",
    "traffic signs",
)
"""Class names; the position of a name is its class id."""

N_CLASSES: int = len(CLASS_NAMES)
MAX_ID: int = N_CLASSES - 1

NONE, BUILDINGS, FENCES, OTHER, PEDESTRIANS, POLES, ROAD_LINES = range(7)
ROADS, SIDEWALKS, VEGETATION, VEHICLES, WALLS, TRAFFIC_SIGNS = range(7, 13)
