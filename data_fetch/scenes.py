"""Synthetic CARLA-like street scenes: sky, skyline, road, sidewalks, facades, then objects and lighting.

Every scene is a function of (seed, index) only. Geometry is metric (a pinhole camera over flat ground),
so the same scene renders at any resolution; classes follow from geometry, shape and texture rather than
from colour alone (greys appear on roads, sidewalks, walls, buildings, cars and overcast skies). The street's
layout comes from ``street`` and the things standing in it from ``objects``; this module paints the rest and
puts the frame together (``render_scene``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import labels as L
from .canvas import Camera, Canvas
from .objects import place_objects
from .street import Street, make_street
from .textures import (FACADE_PALETTE, GREENS, apply_lighting, grey, jitter, pick, sky_colours,
                       smooth_noise)


@dataclass
class Noise:
    """Frame-wide noise fields reused by every surface at different strengths."""

    fine: np.ndarray
    mid: np.ndarray
    low: np.ndarray


def make_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    """A camera with random height, pitch (horizon row) and yaw (vanishing column)."""
    return Camera(width=width, height_px=height, focal=width * rng.uniform(0.55, 0.8),
                  height=rng.uniform(1.3, 2.0), horizon=height * rng.uniform(0.36, 0.52),
                  centre_x=width * (0.5 + rng.uniform(-0.12, 0.12)))


def paint_sky(canvas: Canvas, rng: np.random.Generator, noise: Noise) -> None:
    """A vertical gradient with clouds above the horizon (class none)."""
    cam = canvas.camera
    bottom = int(np.clip(np.ceil(cam.horizon), 0, cam.height_px))
    zenith, horizon = sky_colours(rng)
    t = (np.arange(bottom, dtype=np.float32) / max(cam.horizon, 1.0))[:, None, None]
    sky = zenith * (1 - t) + horizon * t
    clouds = np.clip(noise.low[:bottom] * rng.uniform(0.3, 1.2) - 0.2, 0, 1)[..., None]
    canvas.rgb[:bottom] = sky * (1 - clouds) + rng.uniform(200, 250) * clouds
    canvas.ids[:bottom] = L.NONE


def paint_skyline(canvas: Canvas, rng: np.random.Generator) -> None:
    """Distant, hazy buildings standing on the horizon."""
    cam = canvas.camera
    scale = cam.width / 800
    haze = canvas.rgb[max(int(cam.horizon) - 1, 0)].mean(axis=0)
    col = 0
    while col < cam.width:
        span = int(rng.uniform(15, 90) * scale) + 1
        if rng.random() < 0.75:
            top = int(cam.horizon - rng.uniform(3, 70) * scale)
            colour = 0.55 * haze + 0.45 * grey(rng, 60, 170)
            rows = slice(max(top, 0), max(int(np.ceil(cam.horizon)), 0))
            canvas.rgb[rows, col:col + span] = colour
            canvas.ids[rows, col:col + span] = L.BUILDINGS
        col += span


def paint_ground(canvas: Canvas, street: Street, rng: np.random.Generator, noise: Noise) -> np.ndarray:
    """Road with lane markings, sidewalks with tiles, and verges; returns the cast-shadow map."""
    cam = canvas.camera
    r0 = int(np.clip(np.ceil(cam.horizon), 0, cam.height_px))
    shadow = np.zeros((cam.height_px, cam.width), dtype=np.float32)
    if r0 >= cam.height_px:
        return shadow
    rows = np.arange(r0, cam.height_px, dtype=np.float32) + 0.5
    z = (cam.focal * cam.height / np.maximum(rows - cam.horizon, 0.25))[:, None]
    x = (np.arange(cam.width, dtype=np.float32) + 0.5 - cam.centre_x)[None, :] * z / cam.focal

    # Regions: 0 road, 1 sidewalk, 2 left verge, 3 right verge; each with a class, colour and texture.
    road = (x >= street.road_left) & (x <= street.road_right)
    region = np.where(x < street.walk_left, 2, np.where(x > street.walk_right, 3, np.where(road, 0, 1)))
    region = region.astype(np.uint8)
    classes = [L.ROADS, L.SIDEWALKS, 0, 0]
    asphalt = grey(rng, 55, 140)
    # Sidewalks are lighter than the road of the same frame, though not than every road of other frames.
    paving = jitter(rng, tuple(asphalt + rng.uniform(20, 70)), 10)
    base = [asphalt, np.clip(paving, 0, 255), None, None]
    gains = [(rng.uniform(6, 20), 0.0, 7.0), (6.0, 0.0, 4.0), None, None]
    for k in (2, 3):
        if rng.random() < 0.6:
            base[k], gains[k], classes[k] = pick(rng, GREENS, 15), (0.0, 22.0, 10.0), L.VEGETATION
        else:
            base[k], gains[k], classes[k] = grey(rng, 80, 150, 15) * (0.9, 0.85, 0.75), (0.0, 12.0, 10.0), L.OTHER
    gain = np.array(gains, dtype=np.float32)[region]
    texture = gain[..., 0] * noise.low[r0:] + gain[..., 1] * noise.mid[r0:] + gain[..., 2] * noise.fine[r0:]
    tile = rng.uniform(0.4, 1.0)
    seam = ((np.abs(x) % tile) < 0.1 * tile) | ((z % tile) < 0.1 * tile)
    curb = (np.abs(x - street.road_left) < 0.2) | (np.abs(x - street.road_right) < 0.2)
    texture += (region == 1) * (25.0 * curb - 25.0 * seam)
    canvas.rgb[r0:] = np.array(base, dtype=np.float32)[region] + texture[..., None]
    canvas.ids[r0:] = np.array(classes, dtype=np.uint8)[region]

    paint_markings(canvas.rgb[r0:], canvas.ids[r0:], x, z, road, street, rng)

    side = -1.0 if rng.random() < 0.5 else 1.0
    edge = rng.uniform(-4, 8) + 2.5 * np.sin(z * rng.uniform(0.05, 0.3) + rng.uniform(0, 6.3))
    if rng.random() < 0.7:
        shadow[r0:] = side * x > edge
    return shadow


def paint_markings(rgb: np.ndarray, ids: np.ndarray, x: np.ndarray, z: np.ndarray, road: np.ndarray,
                   street: Street, rng: np.random.Generator) -> None:
    """Lane dividers (solid or dashed, white or yellow), edge lines and sometimes a zebra crossing."""
    width = street.road_right - street.road_left
    lanes = max(1, int(round(width / rng.uniform(2.8, 3.8))))
    paint = np.zeros_like(road)
    near = z < 90
    half = rng.uniform(0.06, 0.12)
    dash, period, phase = rng.uniform(2, 4), rng.uniform(6, 12), rng.uniform(0, 12)
    for k in range(1, lanes):
        line = np.abs(x - (street.road_left + k * width / lanes)) < half
        if rng.random() < 0.7:
            line &= ((z + phase) % period) < dash
        paint |= line
    if rng.random() < 0.6:
        paint |= (np.abs(x - street.road_left - 0.35) < half) | (np.abs(x - street.road_right + 0.35) < half)
    if rng.random() < 0.3:
        start = rng.uniform(6, 30)
        paint |= (z > start) & (z < start + rng.uniform(2.5, 4.5)) & ((x % 1.0) < 0.5)
    paint &= road & near
    colour = jitter(rng, (225, 225, 215), 15) if rng.random() < 0.7 else jitter(rng, (220, 180, 60), 15)
    worn = rng.uniform(0.7, 1.0)
    rgb[paint] = rgb[paint] * (1 - worn) + colour * worn
    ids[paint] = L.ROAD_LINES


def paint_facades(canvas: Canvas, street: Street, rng: np.random.Generator, noise: Noise) -> None:
    """Building fronts along both sides of the street, then walls, fences and hedges in front of them."""
    for side, line in ((-1, street.facade_left), (1, street.facade_right)):
        paint_plane(canvas, side, line, rng, noise, low=False)
        paint_plane(canvas, side, line - side * rng.uniform(0.1, 0.6), rng, noise, low=True)


def _segments(rng: np.random.Generator, low: bool) -> tuple[np.ndarray, ...]:
    """Consecutive stretches along the street: end depth, kind, height and colour of each."""
    ends, kinds, heights, colours = [], [], [], []
    z = rng.uniform(-5, 10)
    while z < 400:
        z += rng.uniform(4, 30)
        ends.append(z)
        if low:
            kind = rng.choice([0, L.WALLS, L.FENCES, L.VEGETATION], p=[0.4, 0.25, 0.2, 0.15])
            heights.append(rng.uniform(0.7, 2.8))
            colours.append(pick(rng, GREENS, 15) if kind == L.VEGETATION else pick(rng, FACADE_PALETTE, 25))
        else:
            kind = L.BUILDINGS if rng.random() < 0.8 else 0
            heights.append(rng.uniform(5, 40))
            colours.append(pick(rng, FACADE_PALETTE, 25))
        kinds.append(kind)
    return np.array(ends), np.array(kinds), np.array(heights, np.float32), np.array(colours, np.float32)


def paint_plane(canvas: Canvas, side: int, line: float, rng: np.random.Generator, noise: Noise,
                low: bool) -> None:
    """One vertical plane parallel to the street at lateral position ``line``, cut into segments."""
    cam = canvas.camera
    ends, kinds, heights, colours = _segments(rng, low)
    glass, turned = rng.uniform(25, 110), rng.uniform(0.7, 1.0)
    ragged = low and rng.random() < 0.5
    u = np.arange(cam.width, dtype=np.float32) + 0.5 - cam.centre_x
    ok = (u * side) > 0.5
    z = np.where(ok, cam.focal * line / np.where(ok, u, 1.0), np.inf)
    seg = np.minimum(np.searchsorted(ends, z), len(ends) - 1)
    kind = np.where(ok & (z > 0.3) & (z < ends[-1]), kinds[seg], 0)
    used = np.flatnonzero(kind)
    if used.size == 0:
        return
    cols = slice(int(used[0]), int(used[-1]) + 1)
    kind, seg = kind[cols], seg[cols]
    zc = np.where(kind > 0, z[cols], 1.0).astype(np.float32)
    top = cam.horizon + cam.focal * (cam.height - heights[seg]) / zc
    if ragged:  # uneven hedge tops
        top -= (kind == L.VEGETATION) * 0.4 * np.abs(np.sin(zc * 3.1)) * cam.focal / zc
    bottom = cam.horizon + cam.focal * cam.height / zc
    r0 = int(np.clip(np.floor(top[kind > 0].min()), 0, cam.height_px))
    r1 = int(np.clip(np.ceil(bottom[kind > 0].max()) + 1, 0, cam.height_px))
    if r0 >= r1:
        return
    rows = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
    cover = (rows >= top) & (rows <= bottom) & (kind > 0)
    up = cam.height - (rows - cam.horizon) * zc / cam.focal
    texture = 10 * noise.mid[r0:r1, cols] + 5 * noise.fine[r0:r1, cols]
    colour = colours[seg][None, :, :] + texture[..., None]
    if not low:
        spacing = 2.0 + (seg % 3) * 0.7
        storey = up % 3.2
        window = ((zc % spacing) < spacing * 0.55) & (storey > 1.0) & (storey < 2.4) & (up > 3.0)
        window &= up < heights[seg] - 1.0
        colour = np.where(window[..., None], glass + 0.3 * colour, colour) * turned
    else:
        bars = (kind == L.FENCES) & ((zc * 4.0) % 1.0 > 0.35)
        rail = (np.abs(up - heights[seg] + 0.08) < 0.08) | (np.abs(up - 0.2) < 0.06)
        cover &= ~(bars & ~rail)
        hedge = (kind == L.VEGETATION)[None, :, None]
        colour += hedge * (25 * noise.mid[r0:r1, cols])[..., None]
    canvas.rgb[r0:r1, cols][cover] = colour[cover]
    canvas.ids[r0:r1, cols][cover] = np.broadcast_to(kind[None, :], cover.shape)[cover]


def paint_hood(canvas: Canvas, rng: np.random.Generator) -> None:
    """The bonnet of the camera car along the bottom edge (class vehicles), in most frames."""
    cam = canvas.camera
    if rng.random() < 0.35:
        return
    depth = cam.height_px * rng.uniform(0.06, 0.16)
    u = (np.arange(cam.width, dtype=np.float32) - cam.width / 2) / (cam.width * rng.uniform(0.6, 0.9))
    top = cam.height_px - depth * np.clip(1 - u * u, 0, 1)
    r0 = int(np.clip(np.floor(top.min()), 0, cam.height_px))
    rows = np.arange(r0, cam.height_px, dtype=np.float32)[:, None]
    hood = rows > top[None, :]
    shine = np.clip(1.0 - np.abs(rows - top[None, :] - 6) / 12, 0, 1)[..., None]
    colour = pick(rng, ((30, 30, 35), (200, 200, 205), (150, 20, 25), (25, 50, 120)), 20)
    canvas.rgb[r0:][hood] = (colour * 0.8 + 90 * shine)[hood]
    canvas.ids[r0:][hood] = L.VEHICLES


def render_scene(seed: int, index: int, width: int = 800, height: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``index`` of the synthetic set made with ``seed``.

    Returns:
        (image, ids): uint8 arrays of shape (height, width, 3) and (height, width); ids are 0-12.
    """
    rng = np.random.default_rng([seed, index])
    camera = make_camera(rng, width, height)
    canvas = Canvas(camera)
    noise = Noise(fine=rng.standard_normal((height, width), dtype=np.float32),
                  mid=smooth_noise(rng, height, width, 3 * width / 800),
                  low=smooth_noise(rng, height, width, 40 * width / 800))
    street = make_street(rng)
    paint_sky(canvas, rng, noise)
    paint_skyline(canvas, rng)
    shadow = paint_ground(canvas, street, rng, noise)
    paint_facades(canvas, street, rng, noise)
    place_objects(canvas, street, rng, noise.mid)
    paint_hood(canvas, rng)
    shadow[canvas.ids == L.VEHICLES] *= 0.5
    image = apply_lighting(canvas.rgb, rng, shadow)
    return image, canvas.ids
