"""Shaded pictures of voxel grids, drawn headless by a small ray-march in torch.

Why not a renderer library: pyrender and trimesh's own scene rendering need an OpenGL context (a display, EGL or
OSMesa), which a shared CPU server has not; Blender and Open3D are multi-GB installs. A grid is already a
volume, so a ray-march of it is short and exact: the grid is resampled (trilinear, `grid_sample`) in the
camera's frame, one ray a pixel along the depth axis; where the occupancy first crosses one half is the surface
(refined between the two samples around the crossing), its normal comes from the depth map's slope, and the
picture is Lambert shading from a light above and to the left, with a little ambient light and a depth cue.

Grids are float [N, R, R, R] in [0, 1] indexed (x, y, z), y up. The camera looks at the grid's centre from
`elevation` degrees above the horizon and turns round the vertical axis by `yaw` (a turntable).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ...io import grid as image_grid
from ..video.animation import animation_bytes

SIZE = 96  # pixels of a render's side
ELEVATION = 25.0
YAW = -35.0  # the default view: from the front left, a little above
ZOOM = 1.45  # how much of the grid the picture spans: its diagonal fits at every yaw
COLOUR = np.array([0.78, 0.62, 0.45])  # a light wood, so that shading reads in grey and in colour
LIGHT = torch.tensor([-0.45, 0.75, 0.5])  # towards the light, in the camera's frame (x right, y up, z back)
SPIN_FRAMES = 24


def _camera(yaw: float, elevation: float) -> torch.Tensor:
    """The 3 x 4 affine that maps the camera's normalised coordinates to the grid's (grid_sample's x, y, z)."""
    a, e = math.radians(yaw), math.radians(elevation)
    turn = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    tilt = torch.tensor([[1, 0, 0], [0, math.cos(e), -math.sin(e)], [0, math.sin(e), math.cos(e)]])
    return torch.cat([ZOOM * turn @ tilt, torch.zeros(3, 1)], 1)


@torch.no_grad()
def render(grids: torch.Tensor, yaw: float = YAW, elevation: float = ELEVATION, size: int = SIZE) -> np.ndarray:
    """Grids float [N, R, R, R] in [0, 1] -> uint8 pictures [N, size, size, 3] on white."""
    n = len(grids)
    # grid_sample's volume is [N, C, D, H, W] with x along W, y along H (down) and z along D: (x, y, z) grids
    # become [z, -y, x], so that the picture's rows run down and the viewer looks along +z from the front
    vol = grids.float().permute(0, 3, 2, 1).flip(2)[:, None]  # [N, 1, Z, Y, X]
    theta = _camera(yaw, elevation).expand(n, 3, 4)
    coords = F.affine_grid(theta, [n, 1, size, size, size], align_corners=False)
    occ = F.grid_sample(vol, coords, align_corners=False, padding_mode="zeros")[:, 0]  # [N, D, H, W]
    occ = occ.flip(1)  # depth index 0 nearest the viewer
    inside = occ >= 0.5
    hit = inside.any(1)  # [N, H, W]
    first = inside.float().argmax(1)  # [N, H, W] the first sample inside
    before = (first - 1).clamp(min=0)
    o1, o0 = occ.gather(1, first[:, None])[:, 0], occ.gather(1, before[:, None])[:, 0]
    frac = ((0.5 - o0) / (o1 - o0).clamp(min=1e-6)).clamp(0, 1)
    depth = torch.where(first > 0, before + frac, first.float()) / size  # [N, H, W] in [0, 1]
    depth = torch.where(hit, depth, depth.new_ones(()))
    # normals from the depth map's slope; at the silhouette the slope is taken on the shape's own side
    pad = F.pad(depth[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    dx = (pad[:, 1:-1, 2:] - pad[:, 1:-1, :-2]).clamp(-0.05, 0.05) * size / 2
    dy = (pad[:, 2:, 1:-1] - pad[:, :-2, 1:-1]).clamp(-0.05, 0.05) * size / 2
    normal = F.normalize(torch.stack([-dx, dy, -torch.ones_like(dx)], -1), dim=-1)  # towards the viewer
    light = F.normalize(LIGHT * torch.tensor([1.0, 1.0, -1.0]), dim=0)
    lambert = (normal * light).sum(-1).clamp(min=0)
    shade = (0.3 + 0.7 * lambert) * (1.0 - 0.35 * depth)  # ambient + diffuse, fading with distance
    rgb = shade[..., None] * torch.from_numpy(COLOUR).float()
    rgb = torch.where(hit[..., None], rgb, torch.ones(3))
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def as_grids(stored: np.ndarray) -> torch.Tensor:
    """uint8 grids [N, R, R, R] -> float [N, R, R, R] in [0, 1]."""
    return torch.from_numpy(np.asarray(stored)).float() / 255.0


def renders(stored: np.ndarray, yaw: float = YAW, size: int = SIZE) -> np.ndarray:
    """uint8 grids [N, R, R, R] -> their pictures uint8 [N, size, size, 3], in chunks (memory: size^3 a grid)."""
    grids = as_grids(stored)
    if not len(grids):
        return np.zeros((0, size, size, 3), np.uint8)
    return np.concatenate([render(part, yaw, size=size) for part in grids.split(64)])


def grid_picture(stored: np.ndarray, nrow: Optional[int] = None, size: int = SIZE):
    """A PIL picture of the renders of grids uint8 [N, R, R, R] side by side."""
    return image_grid(renders(stored, size=size), nrow)


def spin_frames(stored: np.ndarray, frames: int = SPIN_FRAMES, size: int = SIZE) -> np.ndarray:
    """Turntable pictures uint8 [N, frames, size, size, 3]: every grid turned once round the vertical axis."""
    return np.stack([renders(stored, YAW + 360.0 * t / frames, size) for t in range(frames)], 1)


def spin_bytes(stored: np.ndarray, nrow: Optional[int] = None, frames: int = SPIN_FRAMES, size: int = SIZE) -> bytes:
    """The bytes of an animated GIF of grids turning together (12 frames a second)."""
    return animation_bytes(spin_frames(stored, frames, size), 12.0, ".gif", nrow)
