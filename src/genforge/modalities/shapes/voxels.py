"""Meshes to occupancy voxels and back.

Grids are uint8 [R, R, R] indexed (x, y, z) in the mesh's own axes, y up (the OBJ and glTF convention), 0 empty
and 255 filled; a model's samples keep their soft values in between, and meshes are cut at the middle (127.5).

The normalisation rule: a shape is scaled (the same in every axis) so that its longest side fills R - 2 voxels,
and its filled voxels are centred on the grid: one empty voxel is left on each side, so that the surface
marching cubes draws is closed. Voxelisation is trimesh's: the voxel nearest every point of the surface
(`Trimesh.voxelized`, subdividing faces to the voxel size: so thin parts such as chair legs and shelves are kept
at 32^3, one voxel thick at least; a shape's volume is over by up to half a voxel of its surface), then the
inside filled (`VoxelGrid.fill`: scipy's binary_fill_holes, which fills every region the surface voxels
enclose). A mesh that is not watertight (most of the furniture) is filled the same way: a gap narrower than a
voxel does not leak, because the surface is closed at the voxels' size; a wider one (an open box) leaves its
inside empty and the shape is kept as its shell.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import DataError

MESH_EXTENSIONS = (".obj", ".stl", ".ply", ".off", ".glb", ".gltf")
WRITE_EXTENSIONS = (".obj", ".stl", ".ply", ".glb")
LEVEL = 127.5  # where a grid's surface is: occupancy one half


def read_mesh(source, file_type: str):
    """A mesh file (a path or file-like) of `file_type` (an extension without the dot) -> one trimesh.Trimesh
    with every part of the file joined; DataError with the reason when it cannot be read or has no surface."""
    import trimesh  # deferred: the shapes extra's; importing this module must not need it

    try:
        mesh = trimesh.load(source, file_type=file_type, force="mesh", skip_materials=True, process=False)
    except Exception as e:  # trimesh's loaders raise whatever their parsers do (ValueError, KeyError, IndexError...)
        raise DataError(f"not a {file_type.upper()} mesh trimesh reads ({str(e).splitlines()[0][:120]})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise DataError("empty (no faces)")
    if not np.isfinite(mesh.vertices).all():
        raise DataError("has non-finite vertex coordinates")
    return mesh


def sniff_type(body: bytes) -> str:
    """The mesh type of a file's bytes, by their first bytes: glb, ply, off, stl (binary or ASCII) or obj."""
    head = body[:512].lstrip()
    if head.startswith(b"glTF"):
        return "glb"
    if head.startswith(b"{") and b'"asset"' in body[:4096]:
        return "gltf"
    if head.startswith(b"ply"):
        return "ply"
    if head.startswith(b"OFF"):
        return "off"
    if head.startswith(b"solid") and b"facet" in body[:4096]:
        return "stl"
    if len(body) >= 84 and len(body) == 84 + 50 * int.from_bytes(body[80:84], "little"):
        return "stl"  # binary STL: an 80-byte header, a face count, 50 bytes a face
    return "obj"


def voxelise(mesh, resolution: int) -> np.ndarray:
    """A mesh -> uint8 [R, R, R] occupancy by the normalisation rule (module docstring); DataError when it has
    no extent or fills no voxel."""
    lo, hi = mesh.bounds
    extent = float((hi - lo).max())
    if not extent > 0:
        raise DataError("has no volume (every vertex at one point)")
    mesh = mesh.copy()
    # trimesh fills the voxel nearest each point of the surface (voxel centres on the integers): a side of
    # R - 3 voxel sides starting at 0 fills R - 2 voxels, 0..R - 3
    mesh.apply_translation(-lo)
    mesh.apply_scale((resolution - 3) / extent)
    idx = np.argwhere(mesh.voxelized(pitch=1.0).fill().matrix)
    if len(idx) == 0:
        raise DataError("fills no voxel")
    # centred by the filled voxels themselves: robust to where the surface fell between voxel centres
    idx = idx - idx.min(0) + (resolution - (np.ptp(idx, 0) + 1)) // 2
    idx = idx[((idx >= 0) & (idx < resolution)).all(1)]
    grid = np.zeros((resolution,) * 3, np.uint8)
    grid[tuple(idx.T)] = 255
    return grid


def mesh_facts(mesh) -> dict:
    """What the data report says of a mesh: its vertices, faces and whether it is watertight (judged with its
    coincident vertices merged: an STL repeats every vertex for each of its faces)."""
    merged = mesh.copy()
    merged.merge_vertices()
    return {"vertices": len(mesh.vertices), "faces": len(mesh.faces), "watertight": bool(merged.is_watertight)}


def read_grid(path: Path, resolution: int) -> tuple[np.ndarray, dict]:
    """A mesh file -> (uint8 [R, R, R], `mesh_facts`), its type from its suffix; DataError with the reason."""
    mesh = read_mesh(str(path), path.suffix.lower().lstrip("."))
    return voxelise(mesh, resolution), mesh_facts(mesh)


def to_mesh(grid: np.ndarray):
    """uint8 [R, R, R] (soft values allowed) -> the trimesh.Trimesh of its surface at occupancy one half, by
    scikit-image's marching cubes, in grid units centred on the grid (x, y, z; y up); None for an empty grid."""
    # deferred: scikit-image and trimesh are the shapes extra's
    import trimesh
    from skimage.measure import marching_cubes

    r = grid.shape[0]
    padded = np.pad(grid.astype(np.float32), 1)  # a shape touching the grid's side is closed there too
    if padded.max() <= LEVEL:
        return None
    verts, faces, normals, _ = marching_cubes(padded, level=LEVEL)
    # marching cubes orients faces towards increasing values (inwards here): reversed, they face out
    return trimesh.Trimesh(verts - 1 - (r - 1) / 2, faces[:, ::-1], vertex_normals=-normals, process=False)


def scene_bytes(grids: np.ndarray, suffix: str, nrow: Optional[int] = None) -> bytes:
    """One mesh file (.obj/.stl/.ply/.glb) of grids uint8 [N, R, R, R] side by side on the floor (x, z), `nrow`
    a row, a grid's side plus a voxel apart; a GLB keeps one node a shape, the others one joined mesh."""
    import trimesh  # deferred: the shapes extra's

    n, r = len(grids), grids.shape[-1]
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    meshes = []
    for i, grid in enumerate(grids):
        mesh = to_mesh(grid)
        if mesh is not None:
            mesh.apply_translation([(i % nrow) * (r + 1), 0, (i // nrow) * (r + 1)])
            meshes.append(mesh)
    if suffix == ".glb":
        scene = trimesh.Scene()
        for i, mesh in enumerate(meshes):
            scene.add_geometry(mesh, node_name=f"shape_{i}")
        return scene.export(file_type="glb")
    joined = trimesh.util.concatenate(meshes) if meshes else trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), int))
    out = joined.export(file_type=suffix.lstrip("."))
    return out.encode() if isinstance(out, str) else out


def grid_from_bytes(body: bytes, resolution: int) -> np.ndarray:
    """An uploaded mesh or .npz voxel file -> uint8 [R, R, R]; ValueError with the reason."""
    if body[:2] == b"PK":  # an .npz: a zip archive
        try:
            grids = npz_grids(io.BytesIO(body), "upload")[0]
        except DataError as e:
            raise ValueError(str(e)) from None
        if grids.shape[1:] != (resolution,) * 3:
            raise ValueError(f"voxels are {list(grids.shape[1:])}, the model's {[resolution] * 3}")
        return grids[0]
    try:
        return voxelise(read_mesh(io.BytesIO(body), sniff_type(body)), resolution)
    except DataError as e:
        raise ValueError(str(e)) from None


def npz_grids(source, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """An .npz of `voxels` ([R, R, R] or [N, R, R, R]: bool, 0/1 or uint8 0..255; optional `labels`) -> (uint8
    [N, R, R, R] in 0..255, labels or None); DataError naming `where` and what was expected."""
    try:
        with np.load(source, allow_pickle=False) as z:
            if "voxels" not in z:
                raise DataError(f"{where}: no 'voxels' array (found {sorted(z.files)})")
            v = np.asarray(z["voxels"])
            labels = np.asarray(z["labels"]).astype(np.int64) if "labels" in z else None
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{where}: not an .npz file numpy reads ({e})") from None
    if v.ndim == 3:
        v = v[None]
    if v.ndim != 4 or len(set(v.shape[1:])) != 1:
        raise DataError(f"{where}: 'voxels' must be a cube [R, R, R] or [N, R, R, R], got {list(v.shape)}")
    if not np.isfinite(v).all():
        raise DataError(f"{where}: 'voxels' holds non-finite values")
    if v.dtype == bool or v.max() <= 1:
        v = v.astype(np.float32) * 255
    return np.clip(np.rint(v), 0, 255).astype(np.uint8), labels
