"""Things standing in the street: vehicles, pedestrians, poles with signs, trees and street furniture.

Each object is drawn in its own screen patch from metric shapes (see ``Canvas.patch``); objects are
drawn from the farthest to the nearest so that nearer ones hide farther ones.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import labels as L
from .canvas import Canvas, Patch
from .street import Street
from .textures import GREENS, PAINT_PALETTE, grey, jitter, pick

Draw = Callable[[Canvas, np.random.Generator, np.ndarray], None]


def _paint(canvas: Canvas, p: Patch, where: np.ndarray, colour: np.ndarray, class_id: int) -> None:
    where = np.broadcast_to(where, (p.up.shape[0], p.lateral.shape[1]))
    if colour.ndim == 3:
        colour = np.broadcast_to(colour, where.shape + (3,))
    canvas.paint(where, colour, class_id, p.rows, p.cols)


def vehicle(x: float, z: float, rng: np.random.Generator) -> Draw:
    """A car, van or bus seen from behind or in front: body, cabin, glass, wheels and lights."""
    half = rng.uniform(0.8, 1.0) if rng.random() < 0.85 else rng.uniform(1.1, 1.3)
    tall = rng.uniform(1.35, 1.7) if half < 1.05 else rng.uniform(2.2, 3.2)
    paint = pick(rng, PAINT_PALETTE, 25)
    lamp = jitter(rng, (200, 30, 30), 20) if rng.random() < 0.6 else jitter(rng, (235, 230, 200), 15)

    def draw(canvas: Canvas, _rng: np.random.Generator, mid: np.ndarray) -> None:
        p = canvas.patch(x, z, half * 1.05, tall)
        if p is None:
            return
        lx, up = np.abs(p.lateral), p.up
        waist = 0.55 * tall
        taper = half * (0.92 - 0.2 * np.clip((up - waist) / (tall - waist), 0, 1))
        body = (lx < half) & (up > 0.25) & (up < waist)
        cabin = (lx < taper) & (up >= waist) & (up < tall)
        wheels = (lx > half * 0.6) & (lx < half * 0.95) & (up <= 0.35)
        shade = 1.0 - 0.25 * np.clip((waist - up) / waist, 0, 1)
        colour = paint * shade[..., None] + np.zeros_like(lx)[..., None]
        glass = cabin & (lx < taper - 0.1) & (up > waist + 0.08) & (up < tall - 0.08)
        colour = np.where(glass[..., None], 0.25 * colour + 25, colour)
        lights = body & (lx > half * 0.68) & (lx < half * 0.93) & (np.abs(up - 0.8 * waist) < 0.07)
        colour = np.where(lights[..., None], lamp, colour)
        colour = np.where(wheels[..., None], 20.0, colour)
        below = (lx < half * 1.05) & (up < 0.3) & ~wheels
        sub = canvas.rgb[p.rows, p.cols]
        sub[np.broadcast_to(below, sub.shape[:2])] *= 0.45  # the car's shadow on the road
        _paint(canvas, p, body | cabin | wheels, colour, L.VEHICLES)

    return draw


def pedestrian(x: float, z: float, rng: np.random.Generator) -> Draw:
    """A person: legs (mid-stride or not), torso, arms and head."""
    tall = rng.uniform(1.5, 1.95)
    stride = rng.uniform(0.02, 0.16)
    shirt, trousers = pick(rng, PAINT_PALETTE, 30), pick(rng, PAINT_PALETTE, 30)
    skin = jitter(rng, tuple(rng.uniform(90, 220) * np.array([1.0, 0.8, 0.65])), 10)

    def draw(canvas: Canvas, _rng: np.random.Generator, mid: np.ndarray) -> None:
        p = canvas.patch(x, z, 0.4, tall)
        if p is None:
            return
        lx, up = p.lateral, p.up
        hip, shoulder = 0.48 * tall, 0.82 * tall
        legs = (up < hip) & ((np.abs(lx - stride) < 0.075) | (np.abs(lx + stride) < 0.075))
        torso = (up >= hip) & (up < shoulder) & (np.abs(lx) < 0.19 - 0.03 * (shoulder - up) / tall)
        arms = (up > hip + 0.05) & (up < shoulder) & (np.abs(lx) >= 0.19) & (np.abs(lx) < 0.26)
        head = lx**2 + (up - 0.915 * tall) ** 2 < 0.105**2
        colour = np.where(legs[..., None], trousers, shirt)
        colour = np.where(head[..., None], skin, colour)
        _paint(canvas, p, legs | torso | arms | head, colour, L.PEDESTRIANS)

    return draw


def pole(x: float, z: float, rng: np.random.Generator, toward_road: float) -> Draw:
    """A lamp post or sign post; sign posts carry a traffic sign facing the road."""
    tall = rng.uniform(3.0, 8.0)
    half = rng.uniform(0.06, 0.13)
    metal = grey(rng, 40, 150)
    has_sign = rng.random() < 0.55
    shape = int(rng.integers(3))
    sign_h, sign_r = rng.uniform(2.0, min(tall, 3.5)), rng.uniform(0.25, 0.45)
    face = pick(rng, ((200, 30, 30), (30, 70, 170), (230, 190, 30), (230, 230, 230), (40, 130, 60)), 20)
    arm = not has_sign and rng.random() < 0.6

    def draw(canvas: Canvas, _rng: np.random.Generator, mid: np.ndarray) -> None:
        reach = 1.6 if arm else max(half, sign_r)
        p = canvas.patch(x, z, reach, tall + 0.1)
        if p is None:
            return
        lx, up = p.lateral, p.up
        post = (np.abs(lx) < half) & (up < tall)
        if arm:
            post |= (np.abs(up - tall) < 0.08) & (lx * toward_road > 0) & (np.abs(lx) < 1.6)
        _paint(canvas, p, post, metal, L.POLES)
        if has_sign:
            dy = up - sign_h
            if shape == 0:
                sign = lx**2 + dy**2 < sign_r**2
                rim = sign & (lx**2 + dy**2 > (0.8 * sign_r) ** 2)
            elif shape == 1:
                sign = (np.abs(lx) < sign_r) & (np.abs(dy) < sign_r)
                rim = sign & ((np.abs(lx) > 0.85 * sign_r) | (np.abs(dy) > 0.85 * sign_r))
            else:
                sign = (dy > -sign_r) & (np.abs(lx) < (sign_r - dy) * 0.6) & (dy < sign_r)
                rim = sign & ((dy < -0.8 * sign_r) | (np.abs(lx) > (sign_r - dy) * 0.6 - 0.06))
            colour = np.where(rim[..., None], np.float32(235), face)
            _paint(canvas, p, sign, colour, L.TRAFFIC_SIGNS)

    return draw


def tree(x: float, z: float, rng: np.random.Generator) -> Draw:
    """A tree (trunk and ragged crown) or, when small, a bush; all vegetation."""
    bush = rng.random() < 0.3
    rx = rng.uniform(0.6, 1.5) if bush else rng.uniform(1.2, 3.0)
    ry = rx * rng.uniform(0.7, 1.3)
    centre = ry if bush else rng.uniform(2.5, 5.0) + ry * 0.6
    trunk = rng.uniform(0.1, 0.25)
    leaves, bark = pick(rng, GREENS, 20), jitter(rng, (80, 65, 50), 15)
    lobes, phase = int(rng.integers(4, 9)), rng.uniform(0, 6.3)

    def draw(canvas: Canvas, _rng: np.random.Generator, mid: np.ndarray) -> None:
        p = canvas.patch(x, z, rx * 1.2, centre + ry * 1.2)
        if p is None:
            return
        lx, up = p.lateral, p.up
        angle = np.arctan2(up - centre, lx)
        edge = 1.0 + 0.12 * np.sin(lobes * angle + phase) + 0.06 * np.sin(3 * lobes * angle)
        crown = (lx / rx) ** 2 + ((up - centre) / ry) ** 2 < edge**2
        stem = (np.abs(lx) < trunk) & (up < centre)
        texture = 35 * mid[p.rows, p.cols][..., None]
        colour = np.where(crown[..., None], leaves + texture, bark + 0.3 * texture)
        _paint(canvas, p, crown | stem, colour, L.VEGETATION)

    return draw


def furniture(x: float, z: float, rng: np.random.Generator) -> Draw:
    """A bin, box, bench or hydrant (class other)."""
    half, tall = rng.uniform(0.15, 0.7), rng.uniform(0.4, 1.3)
    colour = pick(rng, PAINT_PALETTE, 30)

    def draw(canvas: Canvas, _rng: np.random.Generator, mid: np.ndarray) -> None:
        p = canvas.patch(x, z, half, tall)
        if p is None:
            return
        shape = (np.abs(p.lateral) < half) & (p.up < tall)
        lid = np.abs(p.up - tall * 0.9) < tall * 0.1
        _paint(canvas, p, shape, np.where(lid[..., None], colour * 0.7, colour), L.OTHER)

    return draw


def place_objects(canvas: Canvas, street: Street, rng: np.random.Generator, mid: np.ndarray) -> None:
    """Scatter objects over the street and draw them from far to near."""
    items: list[tuple[float, Draw]] = []
    width = street.road_right - street.road_left
    lanes = max(1, int(round(width / 3.3)))
    for _ in range(int(rng.integers(0, 8))):
        lane = int(rng.integers(lanes))
        x = street.road_left + (lane + 0.5) * width / lanes + rng.uniform(-0.4, 0.4)
        z = rng.uniform(4.5, 70)
        items.append((z, vehicle(x, z, rng)))
    for _ in range(int(rng.integers(0, 9))):
        x = rng.uniform(street.walk_left, street.road_left) if rng.random() < 0.5 else \
            rng.uniform(street.road_right, street.walk_right)
        if rng.random() < 0.15:  # crossing the road
            x = rng.uniform(street.road_left, street.road_right)
        z = rng.uniform(2.5, 45)
        items.append((z, pedestrian(x, z, rng)))
    for side, curb in ((-1, street.road_left), (1, street.road_right)):
        z = rng.uniform(3, 15)
        while z < 90:
            items.append((z, pole(curb + side * rng.uniform(0.3, 0.7), z, rng, -side)))
            z += rng.uniform(8, 30)
    for outer, inner in ((street.facade_left, street.walk_left), (street.walk_right, street.facade_right)):
        for _ in range(int(rng.integers(0, 6))):
            lo, hi = min(outer, inner), max(outer, inner)
            x = rng.uniform(lo, hi) if hi - lo > 1.0 else (inner + outer) / 2
            z = rng.uniform(4, 80)
            items.append((z, tree(x, z, rng)))
    for _ in range(int(rng.integers(0, 5))):
        walk = (street.walk_left, street.road_left) if rng.random() < 0.5 else (street.road_right, street.walk_right)
        z = rng.uniform(3, 40)
        items.append((z, furniture(rng.uniform(*walk), z, rng)))
    for _, draw in sorted(items, key=lambda item: -item[0]):
        draw(canvas, rng, mid)
