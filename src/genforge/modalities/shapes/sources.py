"""Shape sources and the in-memory ShapeData.

Stored form: uint8 occupancy grids, [N, R, R, R] arrays here and [N, 1, R, R, R] tensors (`ShapeData.tensor`),
indexed (x, y, z) with y up, 0 empty and 255 filled (voxels.py has the normalisation rule).

- `primitive-shapes` (primitives.py): seeded, always at hand, labelled by kind, its own seeded split.
- `furniture`: the Sweet Home 3D furniture library Debian packages (`sweethome3d-furniture`): five `.sh3f`
  archives (zip files) of OBJ models, each with a catalog that names a model's category, its size and the
  rotation that stands it up. A model is turned by its rotation, stretched to its catalog size (as Sweet Home 3D
  shows it), then voxelised; labelled by category (categories of fewer than MIN_CATEGORY models join
  "Miscellaneous"); each archive's licence is recorded with the data. Voxelised once and cached.
- a folder of meshes (OBJ, STL, PLY, OFF, GLB/glTF; first-level subfolders as labels when every file is in one),
  voxelised once and cached by the files' names, sizes and times; or a folder of .npz voxel grids (voxels.py's
  `npz_grids`), or one such .npz. Files that cannot be read, are empty, have non-finite vertices or no volume are
  named with the reason and skipped (`data.strict`: an error).

Augmentation (`data.mirror`, `data.turns`) adds mirrored and turned copies of the training shapes only: the
mirror image across the x axis and quarter turns round the vertical axis, exact on a grid.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ...data.base import SplitData, find_source, register_source, split_source, subfolder_classes
from ...errors import DataError
from ...io import atomic_write
from .primitives import KINDS, primitive_shapes
from .voxels import MESH_EXTENSIONS, mesh_facts, npz_grids, read_grid, read_mesh, voxelise

FURNITURE_DIR = Path(os.environ.get("GENFORGE_FURNITURE", "/usr/share/sweethome3d/furniture"))
MIN_CATEGORY = 5
FORMAT = 2  # the cache's format: a change of the voxelisation bumps it


@dataclass
class RawShapes:
    """A source's grids before splitting: uint8 [N, R, R, R], labels, what was met."""

    name: str
    grids: np.ndarray
    labels: Optional[np.ndarray] = None
    class_names: Optional[list[str]] = None
    test: Optional[np.ndarray] = None
    test_labels: Optional[np.ndarray] = None
    split: Optional[str] = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    ids: Optional[list[str]] = None
    mesh_stats: Optional[dict] = None  # vertices, faces, watertight share of mesh sources


@dataclass(kw_only=True)
class ShapeData(SplitData):
    """A preprocessed shape data set: uint8 grids [N, R, R, R] (x, y, z; y up)."""

    modality = "shapes"
    mesh_stats: Optional[dict] = None

    @property
    def codec(self) -> None:
        return None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(1, R, R, R): the model form of one shape."""
        return (1, *self.train.shape[1:])

    def tensor(self, split: str = "train", device="cpu") -> torch.Tensor:
        """The split as uint8 [N, 1, R, R, R]."""
        arr = self.train if split == "train" else self.test
        return torch.from_numpy(arr)[:, None].to(device)


def cache_root() -> Path:
    return Path(os.environ.get("GENFORGE_CACHE", Path.home() / ".cache" / "genforge")) / "shapes"


def cached(name: str, recipe: dict, build: Callable[[], RawShapes]) -> RawShapes:
    """A source's grids from the cache (an .npz keyed by `recipe`), or `build()` them and keep them."""
    key = hashlib.sha256(json.dumps(recipe | {"format": FORMAT}, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_root() / f"{name}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in ("grids", "labels", "test", "test_labels") if k in z}
        meta["problems"] = [tuple(p) for p in meta["problems"]]
        return RawShapes(**arrays, **meta)
    raw = build()
    meta = {k: getattr(raw, k) for k in ("name", "class_names", "split", "problems", "summary", "ids", "mesh_stats")}
    arrays = {k: getattr(raw, k) for k in ("grids", "labels", "test", "test_labels") if getattr(raw, k) is not None}
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.array(json.dumps(meta)), **arrays)
    atomic_write(path, buf.getvalue())
    return raw


# ---------------------------------------------------------------- primitive shapes


@register_source(
    "primitive-shapes",
    lambda s: s == "primitive-shapes",
    "boxes, cylinders, cones, ellipsoids, tori, tables, chairs and lamps made by a seeded recipe; always available",
    modality="shapes",
    licence="made offline by genforge (Apache-2.0), a seeded recipe",
)
def load_primitives(spec, cfg) -> RawShapes:
    n_test = max(len(KINDS), round(cfg.shapes * cfg.test_fraction))

    def build() -> RawShapes:
        grids, labels = primitive_shapes(cfg.shapes, cfg.resolution, cfg.split_seed)
        test, test_labels = primitive_shapes(n_test, cfg.resolution, cfg.split_seed + 1)
        return RawShapes(
            name="primitive-shapes",
            grids=grids,
            labels=labels,
            class_names=list(KINDS),
            test=test,
            test_labels=test_labels,
            split="seeded (held-out shapes drawn with their own seed)",
            summary={"recipe": "primitives.py", "origin": "genforge"},
        )

    recipe = {"n": cfg.shapes, "test": n_test, "resolution": cfg.resolution, "seed": cfg.split_seed}
    return cached("primitive-shapes", recipe, build)


# ---------------------------------------------------------------- Sweet Home 3D furniture


@dataclass(frozen=True)
class CatalogEntry:
    archive: str
    model: str  # the OBJ's path inside the archive
    name: str
    category: str
    size: tuple[float, float, float]  # width (x), height (y), depth (z) in cm; 0 where the catalog has none
    rotation: Optional[tuple[float, ...]]  # a 3 x 3 matrix, row by row, that stands the model up


def read_catalog(path: Path) -> tuple[list[CatalogEntry], str]:
    """The entries of one .sh3f archive's catalog, and the archive's licence."""
    with zipfile.ZipFile(path) as z:
        text = z.read("PluginFurnitureCatalog.properties").decode("latin-1")
    keys: dict[str, dict[str, str]] = {}
    for key, num, value in re.findall(r"^(\w+)#(\d+)=(.*)$", text, re.M):
        keys.setdefault(num, {})[key] = value.strip()
    licence = (re.search(r"^license=(.*)$", text, re.M) or [None, "unstated"])[1].strip()
    entries = []
    for k in keys.values():
        if "model" not in k:
            continue
        size = tuple(float(k.get(s) or 0) for s in ("width", "height", "depth"))
        rot = tuple(float(v) for v in k["modelRotation"].split()) if "modelRotation" in k else None
        entries.append(
            CatalogEntry(path.name, k["model"].lstrip("/"), k.get("name", ""), k.get("category", "Miscellaneous"),
                         size, rot)
        )  # fmt: skip
    return entries, licence


def furniture_grid(entry: CatalogEntry, resolution: int) -> tuple[np.ndarray, dict]:
    """One catalog model -> (uint8 [R, R, R], `mesh_facts`): stood up by its rotation, stretched to its catalog
    size."""
    with zipfile.ZipFile(FURNITURE_DIR / entry.archive) as z:
        mesh = read_mesh(io.BytesIO(z.read(entry.model)), "obj")
    if entry.rotation is not None:
        mesh.vertices = mesh.vertices @ np.array(entry.rotation).reshape(3, 3).T
    extent = mesh.extents
    want = np.array(entry.size)
    if (want > 0).all() and (extent > 0).all():
        mesh.vertices = mesh.vertices * (want / extent)
    return voxelise(mesh, resolution), mesh_facts(mesh)


def _grid_or_reason(job) -> tuple[Optional[tuple[np.ndarray, dict]], str]:
    """A worker's job: ((grid, mesh facts), "") or (None, why), so that one bad file does not stop the others."""
    fn, arg, resolution = job
    try:
        return fn(arg, resolution), ""
    except DataError as e:
        return None, str(e)


def voxelise_all(fn, items: list, resolution: int) -> list:
    """fn(item, resolution) -> (grid, mesh facts) for every item, in worker processes (voxelising a mesh takes
    up to seconds); each result as `_grid_or_reason` gives it."""
    jobs = [(fn, it, resolution) for it in items]
    workers = min(len(jobs), os.cpu_count() or 1, 8)
    if workers <= 1:
        return [_grid_or_reason(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_grid_or_reason, jobs, chunksize=4))


def gather(name: str, ids: list[str], results, labels: Optional[list[int]], class_names, cfg, summary) -> RawShapes:
    """The grids that were made, their labels, ids and mesh facts, and the named problems of those that were not."""
    keep = [i for i, (g, _) in enumerate(results) if g is not None]
    problems = [(ids[i], why) for i, (g, why) in enumerate(results) if g is None]
    if cfg.strict and problems:
        raise DataError(f"{problems[0][0]}: {problems[0][1]}; fix or remove it, or drop --set data.strict=true")
    if len(keep) < 2:
        detail = f"; the first problem: {problems[0][0]}: {problems[0][1]}" if problems else ""
        raise DataError(f"{name}: {len(keep)} usable shape(s) among {len(ids)}; at least 2 are needed{detail}")
    return RawShapes(
        name=name,
        grids=np.stack([results[i][0][0] for i in keep]),
        labels=None if labels is None else np.array([labels[i] for i in keep], np.int64),
        class_names=class_names,
        problems=problems,
        summary=summary,
        ids=[ids[i] for i in keep],
        mesh_stats={k: [results[i][0][1][k] for i in keep] for k in ("vertices", "faces", "watertight")},
    )


@register_source(
    "furniture",
    lambda s: s == "furniture",
    f"the Sweet Home 3D furniture library in {FURNITURE_DIR} (820 models, 11 categories), voxelised once and cached",
    modality="shapes",
    licence="CC0 and CC-BY-3.0 by archive (Sweet Home 3D furniture libraries; Debian's sweethome3d-furniture); "
    "each archive's licence is in the data report",
)
def load_furniture(spec, cfg) -> RawShapes:
    archives = sorted(FURNITURE_DIR.glob("*.sh3f"))
    if not archives:
        raise DataError(
            f"the Sweet Home 3D furniture is not installed: no .sh3f archive in {FURNITURE_DIR}. Install it with "
            "`apt-get install -y sweethome3d-furniture`, or set GENFORGE_FURNITURE to a folder of .sh3f archives"
        )

    def build() -> RawShapes:
        entries, licences = [], {}
        for a in archives:
            found, licences[a.name] = read_catalog(a)
            entries += found
        counts: dict[str, int] = {}
        for e in entries:
            counts[e.category] = counts.get(e.category, 0) + 1
        category = lambda e: e.category if counts[e.category] >= MIN_CATEGORY else "Miscellaneous"  # noqa: E731
        names = sorted({category(e) for e in entries})
        results = voxelise_all(furniture_grid, entries, cfg.resolution)
        ids = [f"{e.archive}:{e.model}" for e in entries]
        summary = {"origin": str(FURNITURE_DIR), "archives": licences, "catalog_models": len(entries)}
        return gather("furniture", ids, results, [names.index(category(e)) for e in entries], names, cfg, summary)

    recipe = {"resolution": cfg.resolution, "archives": [(a.name, a.stat().st_size) for a in archives]}
    return cached("furniture", recipe, build)


# ---------------------------------------------------------------- folders of meshes or voxel grids


def _files(spec: str, suffixes) -> list[Path]:
    p = Path(spec)
    return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes) if p.is_dir() else []


@register_source(
    "mesh-folder",
    lambda s: bool(_files(s, MESH_EXTENSIONS)),
    "a folder of OBJ/STL/PLY/OFF/GLB/glTF meshes, first-level subfolders as labels (voxelised once, cached)",
    modality="shapes",
)
def load_mesh_folder(spec, cfg) -> RawShapes:
    root = Path(spec)
    files = _files(spec, MESH_EXTENSIONS)
    rel = [f.relative_to(root) for f in files]
    names = subfolder_classes(rel)

    def build() -> RawShapes:
        results = voxelise_all(read_grid, files, cfg.resolution)
        labels = None if names is None else [names.index(r.parts[0]) for r in rel]
        return gather(root.name, [str(f) for f in files], results, labels, names, cfg, {"files": len(files)})

    stamp = [(str(r), f.stat().st_size, f.stat().st_mtime_ns) for f, r in zip(files, rel)]
    return cached(f"folder-{root.name}", {"root": str(root.resolve()), "files": stamp, "resolution": cfg.resolution,
                                          "strict": cfg.strict}, build)  # fmt: skip


@register_source(
    "voxel-files",
    lambda s: bool(_files(s, (".npz",))) or (s.lower().endswith(".npz") and Path(s).is_file()),
    "an .npz of voxels ([N, R, R, R], optional labels) or a folder of them, first-level subfolders as labels",
    modality="shapes",
)
def load_voxel_files(spec, cfg) -> RawShapes:
    root = Path(spec)
    files = _files(spec, (".npz",)) if root.is_dir() else [root]
    rel = [f.relative_to(root) for f in files] if root.is_dir() else [Path(root.name)]
    names = subfolder_classes(rel)
    grids, labels, ids, problems = [], [], [], []
    for f, r in zip(files, rel):
        try:
            g, lab = npz_grids(f, str(f))
            if g.shape[1] != cfg.resolution:
                raise DataError(f"{f}: voxels are {g.shape[1]}^3, data.resolution is {cfg.resolution}")
        except DataError as e:
            if cfg.strict:
                raise
            problems.append((str(f), str(e).removeprefix(f"{f}: ")))
            continue
        grids.append(g)
        labels.append(np.full(len(g), names.index(r.parts[0])) if names is not None else lab)
        ids += [f"{r}#{k}" for k in range(len(g))]
    if not grids:
        raise DataError(f"{spec}: no usable voxel file; the first problem: {problems[0][0]}: {problems[0][1]}")
    has_labels = all(lab is not None for lab in labels)
    y = np.concatenate(labels) if has_labels else None
    classes = names if names is not None else ([str(i) for i in range(int(y.max()) + 1)] if has_labels else None)
    return RawShapes(root.stem, np.concatenate(grids), y, classes, problems=problems, ids=ids,
                     summary={"files": len(files)})  # fmt: skip


# ---------------------------------------------------------------- preprocessing


def augmented(grids: np.ndarray, labels, mirror: bool, turns: int):
    """Training grids [N, R, R, R] with their mirror images (x reversed) and quarter turns round y added."""
    views = [grids]
    if turns > 1:
        views += [np.rot90(grids, k * 4 // turns, axes=(1, 3)) for k in range(1, turns)]
    if mirror:
        views += [v[:, ::-1] for v in views]
    out = np.ascontiguousarray(np.concatenate(views))
    return out, None if labels is None else np.tile(labels, len(views))


def preprocess_shapes(raw: RawShapes, cfg) -> ShapeData:
    """Split (the source's own, or seeded by shape), `limit`, augmentation of the training split, fingerprint."""
    parts = split_source(raw.grids, raw.labels, raw.ids, cfg, "shape", raw.test, raw.test_labels, raw.split)
    n_shapes = len(parts.train)
    parts.train, parts.train_labels = augmented(parts.train, parts.train_labels, cfg.mirror, cfg.turns)
    if parts.train_ids is not None:
        parts.train_ids = parts.train_ids * (len(parts.train) // n_shapes)
    prep = {"resolution": cfg.resolution, "mirror": cfg.mirror, "turns": cfg.turns}
    data = ShapeData.build(raw, parts, prep, mesh_stats=raw.mesh_stats)
    data.summary = data.summary | {"shapes_before_augmentation": n_shapes}
    return data


def load_shapes(cfg) -> ShapeData:
    """Read `cfg.source` with the shapes source that recognises it, then preprocess."""
    return preprocess_shapes(find_source(cfg.source, "shapes").load(cfg.source, cfg), cfg)
