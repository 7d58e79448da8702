"""The shapes data report: counts per class, the meshes' vertices, faces and watertight share, occupancy,
empty grids, duplicates and train/test overlap (of the shapes before augmentation)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...data.report import (
    duplicate_report,
    format_classes,
    format_duplicates,
    format_problems,
    histogram,
    shared_report,
)
from .sources import ShapeData


def occupancy(grids: np.ndarray) -> np.ndarray:
    """The filled share of each grid uint8 [N, R, R, R] (voxels at least one half full) -> [N]."""
    parts = np.array_split(grids, max(1, len(grids) // 256))  # in chunks: a whole set's booleans would not fit
    return np.concatenate([(g >= 128).reshape(len(g), -1).mean(1) for g in parts])


def _spread(values) -> dict:
    v = np.asarray(values, float)
    return {"min": int(v.min()), "median": int(np.median(v)), "max": int(v.max())}


def shapes_report(data: ShapeData) -> dict:
    """A JSON-ready summary of a shape data set; shown by `data inspect` and saved with every run."""
    n0 = data.summary.get("shapes_before_augmentation", len(data.train))
    originals = dataclasses.replace(data, train=data.train[:n0], train_ids=(data.train_ids or [])[:n0] or None)
    occ = occupancy(np.concatenate([originals.train, data.test]))
    rep = shared_report(data) | {
        "modality": "shapes",
        "shapes_before_augmentation": n0,
        "occupancy": {"median": round(float(np.median(occ)), 4), "hist": histogram(occ, digits=4)},
        "empty": int((occ == 0).sum()),
        "duplicates": duplicate_report(originals),
    }
    if data.mesh_stats:
        m = data.mesh_stats
        rep["meshes"] = {
            "vertices": _spread(m["vertices"]),
            "faces": _spread(m["faces"]),
            "watertight_share": round(float(np.mean(m["watertight"])), 3),
        }
    return rep


def format_shapes_report(rep: dict) -> str:
    """Human-readable text of `shapes_report`."""
    _, r, _, _ = rep["shape"]
    lines = [
        f"data set     {rep['name']}  (fingerprint {rep['fingerprint']})",
        f"shapes       {rep['n_train']} train ({rep['shapes_before_augmentation']} before augmentation) / "
        f"{rep['n_test']} test, voxels {r}^3; split: {rep['split']}",
        f"occupancy    median {rep['occupancy']['median']:.3f} of the grid filled; {rep['empty']} empty grid(s)",
    ]
    if "meshes" in rep:
        m = rep["meshes"]
        lines.append(
            f"meshes       vertices {m['vertices']['min']}..{m['vertices']['max']} (median {m['vertices']['median']}), "
            f"faces {m['faces']['min']}..{m['faces']['max']} (median {m['faces']['median']}); "
            f"{m['watertight_share']:.0%} watertight"
        )
    lines += [f"source       {k}: {v}" for k, v in rep["source"].items()]
    lines += format_classes(rep["class_counts"]["train"])
    lines += format_problems(rep["problems"], "unusable file(s)")
    lines += format_duplicates(rep["duplicates"], "shapes")
    return "\n".join(lines)
