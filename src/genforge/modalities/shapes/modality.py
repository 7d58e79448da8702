"""Shapes: uint8 occupancy grids [N, 1, R, R, R] stored (x, y, z; y up), float [N, 1, R, R, R] in [-1, 1] for
models (torch's Conv3d layout), meshes, shaded renders and turntable GIFs for users."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ...config import BaseDataConfig
from ...errors import DataError, RunError
from ...io import atomic_write, img_tag, png_bytes
from ..base import Modality, file_tag, random_rows, register_modality
from ..image.dataset import to_float, to_uint8
from .render import grid_picture, spin_bytes
from .report import format_shapes_report, shapes_report
from .sources import load_shapes
from .voxels import MESH_EXTENSIONS, WRITE_EXTENSIONS, grid_from_bytes, npz_grids, read_grid, scene_bytes


class ShapesDataConfig(BaseDataConfig):
    """Shape data: occupancy grids of `resolution` voxels a side."""

    source: str = Field(
        "primitive-shapes",
        description="`primitive-shapes`, `furniture`, or a path: a folder of meshes (OBJ/STL/PLY/OFF/GLB/glTF) "
        "or of .npz voxel grids",
    )
    resolution: Literal[16, 32, 64] = Field(32, description="voxels a side of every grid (3D-GAN: 64)")
    shapes: int = Field(
        2000, ge=20, le=100_000, description="primitive-shapes: training shapes (test: x test_fraction)"
    )
    mirror: bool = Field(False, description="augmentation: add the mirror image (x reversed) of every training shape")
    turns: Literal[1, 2, 4] = Field(1, description="augmentation: add 2 or 4 turns of every training shape round y")


FEATURE_DIM = 128
MEMO_SIDE = 16  # near-copy vectors compare grids at 16^3 voxels


class VoxelBackbone(nn.Module):
    """Grids [B, 1, R, R, R] in [-1, 1] -> a small 3-D CNN -> features [B, 128] (global average pooled)."""

    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv3d(cin, cout, 3, 2, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU()]

        # narrow: about 5M multiply-adds a 32^3 grid, so that training it (600 steps of 128 grids) takes minutes
        # on one CPU thread (16/32/64 channels took three times as long)
        self.net = nn.Sequential(
            *block(1, 8),  # [B, 8, R/2, R/2, R/2]
            *block(8, 16),  # [B, 16, R/4, ...]
            *block(16, 32),  # [B, 32, R/8, ...]
            *block(32, FEATURE_DIM),  # [B, 128, R/16, ...]
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),  # [B, 128]
        )

    def forward(self, x):
        return self.net(x)


def turned_on_side(x: torch.Tensor) -> torch.Tensor:
    """Grids [N, 1, X, Y, Z] turned a quarter round the z axis: what stood up lies on its side."""
    return x.rot90(1, (2, 3)).contiguous()


def morph(x: torch.Tensor, grow: bool) -> torch.Tensor:
    """Grids uint8 [N, 1, R, R, R] dilated (grow) or eroded by one voxel (a 3 x 3 x 3 max or min filter)."""
    f = x.float()
    out = F.max_pool3d(f, 3, 1, 1) if grow else -F.max_pool3d(-f, 3, 1, 1)
    return out.to(torch.uint8)


def flipped_voxels(x: torch.Tensor, share: float, seed: int) -> torch.Tensor:
    """Grids uint8 [N, 1, R, R, R] with a random `share` of their voxels turned from full to empty or back."""
    g = torch.Generator().manual_seed(seed)
    flip = torch.rand(x.shape, generator=g) < share
    return torch.where(flip, 255 - x, x)


@register_modality
class ShapesModality(Modality):
    name = "shapes"
    DataConfig = ShapesDataConfig
    unit = "shape"
    default_samples = 500
    out_help = (
        "a .png grid of renders, a .gif turntable, .npz (voxels uint8 [N, R, R, R]), one .obj/.stl/.ply/.glb file "
        "of every sample side by side, or a folder of .obj meshes"
    )
    preview_suffix = ".png"
    preview_media = "image/png"
    formats = ("png", "gif", "obj", "glb", "json")
    extensions = (*MESH_EXTENSIONS, ".npz")
    preview_count = 16

    def load(self, cfg, run=None):
        return load_shapes(cfg)

    def report(self, data) -> dict:
        return shapes_report(data)

    def format_report(self, rep: dict) -> str:
        return format_shapes_report(rep)

    def to_model(self, stored):
        return to_float(stored)  # uint8 [N, 1, R, R, R] in 0..255 -> float in [-1, 1]

    def to_stored(self, out):
        return to_uint8(out).cpu()

    def to_samples(self, stored, codec=None) -> np.ndarray:
        return stored[:, 0].numpy()  # uint8 [N, R, R, R]

    def concat(self, parts):
        return np.concatenate(parts)

    def write(self, samples, out, labels=None, nrow=None, class_names=None) -> Path:
        """.png: a grid of renders; .gif: a turntable; .npz: voxels (and labels); .obj/.stl/.ply/.glb: one mesh
        file of every sample side by side; no suffix: a folder of NNN[_class].obj."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix == ".png":
            atomic_write(out, png_bytes(grid_picture(samples, nrow)))
        elif suffix == ".gif":
            atomic_write(out, spin_bytes(samples, nrow))
        elif suffix == ".npz":
            buf = io.BytesIO()
            np.savez_compressed(buf, voxels=samples, **({"labels": np.asarray(labels)} if labels is not None else {}))
            atomic_write(out, buf.getvalue())
        elif suffix in WRITE_EXTENSIONS:
            atomic_write(out, scene_bytes(samples, suffix, nrow))
        elif suffix:
            raise RunError(f"--out {out}: a shapes model writes {self.out_help}")
        else:
            out.mkdir(parents=True, exist_ok=True)
            width = len(str(len(samples) - 1))
            for i, grid in enumerate(samples):
                name = f"{i:0{width}d}{file_tag(labels, i, class_names)}.obj"
                atomic_write(out / name, scene_bytes(grid[None], ".obj"))
        return out

    def read(self, path, data):
        """.npz with `voxels` of the data's resolution (and `labels`), or a folder of meshes (voxelised as the data
        are) or .npz files; errors name the file."""
        path = Path(path)
        r = data.shape[-1]
        if path.is_dir():
            grids = []
            for f in self.input_files(path, "samples"):
                try:
                    grids.append(npz_grids(f, str(f))[0] if f.suffix.lower() == ".npz" else read_grid(f, r)[0][None])
                except DataError as e:
                    raise DataError(f"{f}: {e}") from None
            stored, labels = np.concatenate(grids), None
        elif path.suffix.lower() == ".npz":
            stored, labels = npz_grids(path, str(path))
        else:
            raise DataError(f"{path}: expected an .npz of voxels or a folder of meshes")
        if stored.shape[1:] != (r, r, r):
            raise DataError(f"{path}: voxels are {list(stored.shape[1:])}, the data's {[r] * 3}")
        return torch.from_numpy(stored)[:, None], None if labels is None else torch.from_numpy(labels)

    def preview(self, samples, nrow=None, labels=None) -> bytes:
        return png_bytes(grid_picture(samples[: self.preview_count], nrow))

    def html(self, samples, nrow=None, labels=None, caption="") -> str:
        pic = img_tag(png_bytes(grid_picture(samples, nrow)), caption or "shapes")
        return f"<figure>{pic}<figcaption>{html.escape(caption)}</figcaption></figure>" if caption else pic

    def preview_html(self, blob, caption):
        return f"<figure>{img_tag(blob, caption, 320)}<figcaption>{html.escape(caption)}</figcaption></figure>"

    def response(self, samples, fmt, nrow=None, labels=None):
        # deferred: only the server's answers need fastapi
        from fastapi.responses import JSONResponse, Response

        if fmt == "json":
            renders = [base64.b64encode(png_bytes(grid_picture(g[None]))).decode() for g in samples]
            extra = {"labels": labels} if labels else {}
            return JSONResponse({"renders": renders, "shape": list(samples.shape[1:])} | extra)
        if fmt == "png":
            return Response(png_bytes(grid_picture(samples, nrow)), media_type="image/png")
        if fmt == "gif":
            return Response(spin_bytes(samples, nrow), media_type="image/gif")
        media = "model/gltf-binary" if fmt == "glb" else "model/obj"
        name = f"shapes.{fmt}"
        return Response(scene_bytes(samples, f".{fmt}", nrow), media_type=media,
                        headers={"content-disposition": f'attachment; filename="{name}"'})  # fmt: skip

    def from_upload(self, body: bytes, shape, codec=None) -> torch.Tensor:
        """An uploaded mesh (OBJ/STL/PLY/OFF/GLB) or .npz -> stored [1, 1, R, R, R], voxelised as the data are."""
        return torch.from_numpy(grid_from_bytes(body, shape[-1]))[None, None]

    def backbone(self, data) -> nn.Module:
        return VoxelBackbone()

    def augment(self, x, strength, gen):
        """Per shape: front and back swapped half of the time, a shift of up to 2 voxels (at 32^3) and a
        zoom of up to 15% out, and from strength 0.5 a few voxels flipped; x [B, 1, R, R, R] in [-1, 1]."""
        b = len(x)
        r = lambda *s: torch.rand(*s, generator=gen).to(x.device)  # noqa: E731
        theta = torch.zeros(b, 3, 4, device=x.device)
        scale = 1.0 + 0.15 * strength * r(b)
        theta[:, 0, 0] = torch.where(r(b) < 0.5, -scale, scale)  # grid_sample's x is the grid's last axis (z)
        theta[:, 1, 1] = theta[:, 2, 2] = scale
        theta[:, :, 3] = (r(b, 3) * 2 - 1) * 0.125 * strength
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
        if strength >= 0.5:
            flip = r(*x.shape) < 0.01 * strength
            out = torch.where(flip, -out, out)
        return out

    def memo_vectors(self, stored, codec=None):
        """Every grid at MEMO_SIDE^3 voxels, flattened: a near copy fills the same voxels."""
        pool = lambda x: F.adaptive_avg_pool3d(self.to_model(x), MEMO_SIDE).flatten(1)  # noqa: E731
        return torch.cat([pool(part) for part in stored.split(256)])

    def sanity_conditions(self, data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """name -> uint8 'samples' [n', 1, R, R, R] with a known fault: voxel noise, eroded, dilated, one shape
        repeated, one class, shapes on their side, training shapes."""
        g = torch.Generator().manual_seed(seed)
        test, train = data.tensor("test"), data.tensor("train")
        real = random_rows(test, n, g)
        out = {"real (floor)": real}
        for share in (0.01, 0.05):
            out[f"voxel noise {share:.0%}"] = flipped_voxels(real, share, seed)
        out["eroded 1 voxel"] = morph(real, grow=False)
        out["dilated 1 voxel"] = morph(real, grow=True)
        out["one shape repeated"] = real[:1].expand_as(real).contiguous()
        if data.test_labels is not None and data.n_classes >= 2:
            out["one class (0)"] = random_rows(test[data.labels("test") == 0], n, g)
        out["turned on their side"] = turned_on_side(real)
        out["training shapes"] = random_rows(train, n, g)
        return out
