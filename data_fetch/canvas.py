"""The camera model and the canvas that synthetic scenes are painted on, colour and class together."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """A pinhole camera ``height`` metres above flat ground, looking along +Z.

    A ground point (X, Z) appears at column ``centre_x + focal * X / Z`` and a point ``h`` metres high at
    row ``horizon + focal * (height - h) / Z``.
    """

    width: int
    height_px: int
    focal: float
    height: float
    horizon: float
    centre_x: float

    def column(self, x: float, z: float) -> float:
        """Screen column of lateral position ``x`` at depth ``z``."""
        return self.centre_x + self.focal * x / z

    def row(self, h: float, z: float) -> float:
        """Screen row of a point ``h`` metres above the ground at depth ``z``."""
        return self.horizon + self.focal * (self.height - h) / z


@dataclass
class Patch:
    """A screen rectangle around an object, with each pixel's position in metres relative to the object."""

    rows: slice
    cols: slice
    lateral: np.ndarray  # (1, w): metres right of the object's centre line
    up: np.ndarray  # (h, 1): metres above the ground


class Canvas:
    """A colour image and its class-id mask, painted together so that they always agree."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.rgb = np.zeros((camera.height_px, camera.width, 3), dtype=np.float32)
        self.ids = np.zeros((camera.height_px, camera.width), dtype=np.uint8)

    def paint(self, where: np.ndarray, colour: np.ndarray, class_id: int,
              rows: slice = slice(None), cols: slice = slice(None)) -> None:
        """Paint ``colour`` (a (3,) colour or an (h, w, 3) image) with ``class_id`` where ``where`` is true."""
        rgb = self.rgb[rows, cols]
        if colour.ndim == 1:
            rgb[where] = colour
        else:
            rgb[where] = colour[where]
        self.ids[rows, cols][where] = class_id

    def patch(self, x: float, z: float, half_width: float, top: float, bottom: float = 0.0) -> Patch | None:
        """The screen rectangle covering ``[x - half_width, x + half_width] x [bottom, top]`` at depth ``z``.

        Returns None when it is behind the camera or off screen.
        """
        cam = self.camera
        if z <= 0.5:
            return None
        c0 = int(np.floor(cam.column(x - half_width, z)))
        c1 = int(np.ceil(cam.column(x + half_width, z))) + 1
        r0 = int(np.floor(cam.row(top, z)))
        r1 = int(np.ceil(cam.row(bottom, z))) + 1
        c0, c1 = max(c0, 0), min(c1, cam.width)
        r0, r1 = max(r0, 0), min(r1, cam.height_px)
        if c0 >= c1 or r0 >= r1:
            return None
        cols = np.arange(c0, c1, dtype=np.float32) + 0.5
        rows = np.arange(r0, r1, dtype=np.float32) + 0.5
        lateral = ((cols - cam.centre_x) * z / cam.focal - x)[None, :]
        up = (cam.height - (rows - cam.horizon) * z / cam.focal)[:, None]
        return Patch(slice(r0, r1), slice(c0, c1), lateral, up)
