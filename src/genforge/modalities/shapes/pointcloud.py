"""Figures of shapes that the 3-D extractor does not give: the point-cloud measures of the 3-D generation
literature, and the overlap of each shape with its nearest training shape.

- Points (Achlioptas et al. 2018, "Learning representations and generative models for 3D point clouds"; Yang
  et al. 2019, PointFlow): POINTS points sampled uniformly on the surface of each shape's mesh (marching cubes at
  occupancy one half), in grid units over the grid's side. Between two clouds, the Chamfer distance: the mean
  squared distance of each point to the other cloud's nearest, both ways, summed. Samples are compared with a
  reference of as many training shapes (as many as the held-out split has, at most SETS, on every side):
  `mmd_cd` (minimum matching distance: each reference shape's nearest sample, averaged: fidelity),
  `cov_cd` (coverage: the share of reference shapes that are some sample's nearest: diversity), and
  `nna_cd` (1-nearest-neighbour accuracy of telling samples from reference shapes by their nearest neighbour in
  the two sets together, leave one out: 0.5 when the two cannot be told apart, 1.0 when they always can).
  The floor is held-out shapes in place of the samples.
- `nearest_iou`: the intersection over union of each shape's filled voxels with its nearest training shape's;
  the figure is the mean, beside the share of shapes above the 99th percentile of held-out shapes' own nearest
  IoU (near copies, calibrated on shapes the model never saw).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ...evaluate.registry import register_metric
from .voxels import to_mesh

POINTS = 256
SETS = 128  # shapes of each side the Chamfer measures compare (their cost grows with its square)


def point_clouds(stored: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Grids uint8 [N, 1, R, R, R] -> points on their surfaces [N, POINTS, 3], in grid sides (an empty grid:
    every point at the centre)."""
    import trimesh  # deferred: the shapes extra's

    r = stored.shape[-1]
    out = np.zeros((len(stored), POINTS, 3), np.float32)
    for i, grid in enumerate(stored[:, 0].numpy()):
        mesh = to_mesh(grid)
        if mesh is not None and mesh.area > 0:
            out[i] = trimesh.sample.sample_surface(mesh, POINTS, seed=seed + i)[0] / r
    return torch.from_numpy(out)


def chamfer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Chamfer distances [N, M] between clouds a [N, P, 3] and b [M, P, 3]."""
    out = torch.empty(len(a), len(b))
    for i, cloud in enumerate(a):
        d = torch.cdist(cloud.expand(len(b), -1, -1), b).pow(2)  # [M, P, P]
        out[i] = d.min(2).values.mean(1) + d.min(1).values.mean(1)
    return out


def pointcloud_figures(fake: torch.Tensor, ref: torch.Tensor) -> dict:
    """MMD, coverage and 1-NNA (Chamfer) of clouds `fake` [N, P, 3] against reference clouds `ref` [M, P, 3]."""
    cross = chamfer(ref, fake)  # [M, N]
    mmd = float(cross.min(1).values.mean())
    coverage = float(len(torch.unique(cross.argmin(0))) / len(ref))
    both = torch.cat([fake, ref])
    d = chamfer(both, both)
    d.fill_diagonal_(float("inf"))  # leave one out
    is_fake = torch.arange(len(both)) < len(fake)
    nna = float((is_fake[d.argmin(1)] == is_fake).float().mean())
    return {"mmd_cd": mmd, "cov_cd": coverage, "nna_cd": nna}


def _figures(ctx, side) -> dict:
    """The three figures of one side, computed once and shared by the three metrics."""
    key = ("pointcloud", hashlib.blake2b(side.stored.numpy().tobytes(), digest_size=16).digest())
    if key not in ctx.cache:
        # one count for the samples, their floor (as many held-out shapes) and the reference: coverage and
        # 1-NNA depend on how many shapes each side has
        n = min(len(side.stored), len(ctx.data.test), SETS)
        if "pointcloud_ref" not in ctx.cache:
            ctx.cache["pointcloud_ref"] = point_clouds(ctx.subset(ctx.data.tensor("train"), n, 7), ctx.seed)
        ref = ctx.cache["pointcloud_ref"]
        ctx.cache[key] = pointcloud_figures(point_clouds(ctx.subset(side.stored, n, 8), ctx.seed), ref)
        ctx.cache[key]["n"] = n
    return ctx.cache[key]


def _register(name: str, better: str, help: str) -> None:
    def fn(ctx, side) -> dict:
        figs = _figures(ctx, side)
        return {name: {"value": figs[name], "n": figs["n"]}}

    register_metric(name, modalities=("shapes",), better=better, help=help)(fn)


_register("mmd_cd", "lower", "minimum matching distance (Chamfer) of training shapes to samples: fidelity")
_register("cov_cd", "higher", "coverage (Chamfer): share of training shapes that are some sample's nearest")
_register("nna_cd", "lower", "1-NN accuracy (Chamfer) of telling samples from training shapes; 0.5 is ideal")


def filled(stored: torch.Tensor) -> torch.Tensor:
    """Grids uint8 [N, 1, R, R, R] -> their filled voxels (at least one half) as float [N, R^3], for `nearest_iou`."""
    return (stored.flatten(1) >= 128).float()


def nearest_iou(stored: torch.Tensor, train_filled: torch.Tensor) -> np.ndarray:
    """Each grid's IoU of filled voxels with its nearest training grid (`filled` of the training grids): [N]."""
    t_count = train_filled.sum(1)
    best = []
    for part in stored.split(256):
        a = filled(part)
        inter = a @ train_filled.T  # [n, M]
        union = a.sum(1, keepdim=True) + t_count - inter
        best.append((inter / union.clamp(min=1)).max(1).values)
    return torch.cat(best).numpy()


@register_metric(
    "nearest_iou",
    modalities=("shapes",),
    help="mean IoU with the nearest training shape, and the share above 99% of held-out shapes' (near copies)",
)
def nearest_iou_metric(ctx, side) -> dict:
    if "iou_threshold" not in ctx.cache:  # once an evaluation: the samples, the floor and the calibration share them
        train = ctx.cache["train_filled"] = filled(ctx.data.tensor("train"))
        # calibrated on held-out shapes: the model never saw them
        ctx.cache["iou_threshold"] = float(np.quantile(nearest_iou(ctx.data.tensor("test"), train), 0.99))
    train = ctx.cache["train_filled"]
    iou = nearest_iou(side.stored, train)
    share = float((iou > ctx.cache["iou_threshold"]).mean())
    return {"nearest_iou": {"value": float(iou.mean()), "copy_share": share, "threshold": ctx.cache["iou_threshold"]}}
