"""`primitive-shapes`: boxes, cylinders, cones, ellipsoids, tori and tables, chairs and lamps built from such
parts, made offline by a seeded recipe with varied proportions: what moving-digits is to video, a set that is
always at hand.

Each shape is a union of parts in its own units, y up, turned round the vertical axis by a random angle of up to
45 degrees either way (without it, shapes of the same proportions would be the same grid once scaled). It is
brought to the grid by the voxelisation's rule (the bounding box of its parts' turned boxes centred, its longest
side spanning R - 2 voxels) and a voxel is filled when its centre is inside a part; the recipes keep every part
at least two voxels thick at 32^3, so no leg vanishes.
"""

from __future__ import annotations

import numpy as np

KINDS = ("box", "cylinder", "cone", "ellipsoid", "torus", "table", "chair", "lamp")


def _box(c, size):
    c, h = np.asarray(c, float), np.asarray(size, float) / 2
    return ("box", c, h), (c - h, c + h)


def _cylinder(c, radius, height, lying: bool = False):  # axis y (lying: x), c the centre of its base
    c = np.asarray(c, float)
    if lying:
        return ("cylinder", c, radius, height, radius, 0), (c - [0, radius, radius], c + [height, radius, radius])
    return ("cylinder", c, radius, height, radius, 1), (c - [radius, 0, radius], c + [radius, height, radius])


def _cone(c, radius, height, top=0.0):  # axis y, a frustum when top > 0
    c = np.asarray(c, float)
    return ("cylinder", c, radius, height, top, 1), (c - [radius, 0, radius], c + [radius, height, radius])


def _ellipsoid(c, radii):
    c, r = np.asarray(c, float), np.asarray(radii, float)
    return ("ellipsoid", c, r), (c - r, c + r)


def _torus(c, major, minor, standing: bool):
    c = np.asarray(c, float)
    r = major + minor
    half = np.array([r, r, minor]) if standing else np.array([r, minor, r])
    return ("torus", c, major, minor, standing), (c - half, c + half)


def _inside(part, p: np.ndarray) -> np.ndarray:
    """Whether points p [M, 3] are inside a part."""
    kind, c = part[0], part[1]
    d = p - c
    if kind == "box":
        return (np.abs(d) <= part[2]).all(1)
    if kind == "cylinder":  # a frustum from radius r0 at the base to r1 at the top, along axis `ax`
        _, _, r0, height, r1, ax = part
        t = d[:, ax] / height
        across = np.hypot(d[:, 1 - ax], d[:, 2])
        return (t >= 0) & (t <= 1) & (across <= r0 + (r1 - r0) * t)
    if kind == "ellipsoid":
        return ((d / part[2]) ** 2).sum(1) <= 1
    _, _, major, minor, standing = part  # torus: round the y axis lying flat, round z standing
    ring, axial = (np.hypot(d[:, 0], d[:, 1]), d[:, 2]) if standing else (np.hypot(d[:, 0], d[:, 2]), d[:, 1])
    return (ring - major) ** 2 + axial**2 <= minor**2


def _parts(kind: str, rng: np.random.Generator) -> list:
    u = rng.uniform
    if kind == "box":
        return [_box((0, 0, 0), u(0.3, 1.0, 3))]
    if kind == "cylinder":
        return [_cylinder((0, 0, 0), u(0.15, 0.5), u(0.3, 1.0), lying=bool(rng.integers(2)))]
    if kind == "cone":
        return [_cone((0, 0, 0), u(0.25, 0.5), u(0.4, 1.0), top=u(0.0, 0.1))]
    if kind == "ellipsoid":
        return [_ellipsoid((0, 0, 0), u(0.2, 0.5, 3))]
    if kind == "torus":
        major = u(0.3, 0.5)
        return [_torus((0, 0, 0), major, u(0.15, 0.45) * major, standing=bool(rng.integers(2)))]
    if kind == "table":
        w, d, h, top, leg = u(0.6, 1.0), u(0.4, 1.0), u(0.4, 0.8), u(0.07, 0.12), u(0.07, 0.1)
        legs = [_box((sx * (w - leg) / 2, (h - top) / 2, sz * (d - leg) / 2), (leg, h - top, leg)) for sx in (-1, 1)
                for sz in (-1, 1)]  # fmt: skip
        return [_box((0, h - top / 2, 0), (w, top, d)), *legs]
    if kind == "chair":
        w, seat_h, back_h, seat, leg = u(0.4, 0.6), u(0.35, 0.5), u(0.35, 0.6), u(0.07, 0.1), u(0.07, 0.09)
        legs = [_box((sx * (w - leg) / 2, seat_h / 2, sz * (w - leg) / 2), (leg, seat_h, leg)) for sx in (-1, 1)
                for sz in (-1, 1)]  # fmt: skip
        back = _box((0, seat_h + back_h / 2, -(w - seat) / 2), (w, back_h, seat))
        return [_box((0, seat_h + seat / 2, 0), (w, seat, w)), back, *legs]
    # lamp: a round foot, a pole and a shade narrowing upwards
    pole_h, shade_h, shade_r = u(0.5, 0.9), u(0.2, 0.35), u(0.2, 0.35)
    return [
        _cylinder((0, 0, 0), u(0.15, 0.25), 0.07),
        _cylinder((0, 0, 0), 0.04, pole_h),
        _cone((0, pole_h, 0), shade_r, shade_h, top=u(0.4, 0.8) * shade_r),
    ]


def _inside_grid(parts, turn: np.ndarray, lo: np.ndarray, hi: np.ndarray, resolution: int) -> np.ndarray:
    """Which voxel centres [R, R, R] are inside a part, the box lo..hi (turned units) scaled to R - 2 voxels."""
    scale = (resolution - 2) / (hi - lo).max()
    axis = (np.arange(resolution) + 0.5 - resolution / 2) / scale  # voxel centres in the turned shape's units
    world = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3) + (lo + hi) / 2
    p = world @ turn  # back into the shape's own units (turn is orthogonal: its inverse is its transpose)
    inside = np.zeros(len(p), bool)
    for part, _ in parts:
        inside |= _inside(part, p)
    return inside.reshape((resolution,) * 3)


def primitive_grid(kind: str, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """One shape of `kind` -> uint8 [R, R, R] (x, y, z; y up): 255 inside, 0 outside."""
    parts = _parts(kind, rng)
    a = np.radians(rng.uniform(-45, 45))
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])  # round y
    corners = np.array([[b[i][0], b[j][1], b[k][2]] for _, b in parts for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    turned = corners @ turn.T
    lo, hi = turned.min(0), turned.max(0)  # a box round the turned parts' boxes: loose for round parts
    # the rule is about the shape, not its parts' boxes: the filled voxels' own box, then the grid again
    inside = _inside_grid(parts, turn, lo, hi, resolution)
    filled = np.argwhere(inside)
    if len(filled):
        step = (hi - lo).max() / (resolution - 2)  # a voxel's side in the shape's units
        first = (lo + hi) / 2 + (filled.min(0) + 0.5 - resolution / 2) * step  # centres of the outermost voxels
        last = (lo + hi) / 2 + (filled.max(0) + 0.5 - resolution / 2) * step
        inside = _inside_grid(parts, turn, first - step / 2, last + step / 2, resolution)
    return (inside * 255).astype(np.uint8)


def primitive_shapes(n: int, resolution: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n shapes uint8 [n, R, R, R], their kinds drawn uniformly (labels: indices into KINDS)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(KINDS), size=n)
    return np.stack([primitive_grid(KINDS[k], resolution, rng) for k in labels]), labels.astype(np.int64)
