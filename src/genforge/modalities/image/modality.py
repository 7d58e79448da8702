"""Images: uint8 [N, C, H, W] stored, float [-1, 1] for models, PNG grids, .npz and folders of PNGs."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import Field
from torch import nn

from ...config import BaseDataConfig
from ...errors import RunError
from ...io import atomic_write, grid_png, img_tag, png_bytes, save_grid
from ..base import Modality, random_rows, register_modality
from .arrays import load_arrays
from .dataset import load_data, to_float, to_uint8
from .folder import EXTENSIONS, square
from .report import data_report, format_report


class ImageDataConfig(BaseDataConfig):
    """Image data."""

    source: str = Field(
        "digits", description="`digits`, `fashion-mnist`, or a path: image folder, IDX folder, .npz/.npy file"
    )
    resolution: Optional[int] = Field(
        None, ge=4, le=1024, description="square side in pixels; None keeps the source's own size"
    )
    channels: Optional[Literal[1, 3]] = Field(None, description="1 (grayscale) or 3 (RGB); None keeps the source's own")
    target: Optional[str] = Field(
        None, description="a second image source: its images are domain B, the source's domain A (labels: the domain)"
    )


FEATURE_DIM = 128


class ImageBackbone(nn.Module):
    """Small CNN: [B, C, H, W] in [-1, 1] -> features [B, 128] (global average pooled)."""

    def __init__(self, channels: int):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.net = nn.Sequential(
            *block(channels, 32),
            nn.MaxPool2d(2),  # [B, 32, H/2, W/2]
            *block(32, 64),
            *block(64, 64),
            nn.MaxPool2d(2),  # [B, 64, H/4, W/4]
            *block(64, FEATURE_DIM),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),  # [B, 128]
        )

    def forward(self, x):
        return self.net(x)


def _tile_png(tile: np.ndarray) -> bytes:
    return png_bytes(Image.fromarray(tile.squeeze(-1) if tile.shape[-1] == 1 else tile))


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of uint8 images [N, C, H, W] (separable, reflect padding)."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    y = F.pad(to_float(x), (r, r, r, r), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return to_uint8(y)


def noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """Additive Gaussian noise of std `sigma` in [0, 1] pixel units."""
    g = torch.Generator().manual_seed(seed)
    return to_uint8(to_float(x) + 2 * sigma * torch.randn(x.shape, generator=g))


@register_modality
class ImageModality(Modality):
    name = "image"
    DataConfig = ImageDataConfig
    unit = "image"
    default_samples = 10_000
    out_help = ".png grid, .npz (images uint8 NHWC, optional labels) or a folder"
    preview_suffix = ".png"
    preview_media = "image/png"
    formats = ("png", "json")
    extensions = EXTENSIONS
    restorable = True
    takes_torchscript_extractor = True
    extractor_recipe = {}  # image extractors were cached before modalities existed: their keys stay as they were
    preview_count = 64

    def load(self, cfg, run=None):
        return load_data(cfg)

    def report(self, data) -> dict:
        return data_report(data)

    def format_report(self, rep: dict) -> str:
        return format_report(rep)

    def to_model(self, stored):
        return to_float(stored)  # uint8 [0, 255] -> float [-1, 1]

    def to_stored(self, out):
        return to_uint8(out).cpu()

    def concat(self, parts):
        return np.concatenate(parts)

    def to_samples(self, stored, codec=None) -> np.ndarray:
        return stored.permute(0, 2, 3, 1).numpy()  # uint8 [N, H, W, C]

    def write(self, samples, out, labels=None, nrow=None, class_names=None) -> Path:
        """`.png` -> one grid, `.npz` -> key `images` (and `labels`), no suffix -> a folder of PNGs."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix == ".png":
            save_grid(out, samples, nrow)
        elif suffix == ".npz":
            buf = io.BytesIO()
            np.savez_compressed(buf, images=samples, **({"labels": labels} if labels is not None else {}))
            atomic_write(out, buf.getvalue())
        elif suffix:
            raise RunError(f"--out {out}: expected a .png grid, a .npz file or a folder (no suffix)")
        else:
            out.mkdir(parents=True, exist_ok=True)
            width = len(str(len(samples) - 1))
            for i, img in enumerate(samples):
                atomic_write(out / f"{i:0{width}d}.png", _tile_png(img))
        return out

    def read(self, path, data):
        raw = load_arrays(str(path), None)
        labels = None if raw.train_labels is None else torch.from_numpy(raw.train_labels)
        return torch.from_numpy(raw.train).permute(0, 3, 1, 2).contiguous(), labels

    def preview(self, samples, nrow=None, labels=None) -> bytes:
        return grid_png(samples, nrow)

    def html(self, samples, nrow=None, labels=None, caption="") -> str:
        fig = img_tag(grid_png(samples, nrow), caption or "images")
        return f"<figure>{fig}<figcaption>{html.escape(caption)}</figcaption></figure>" if caption else fig

    def preview_html(self, blob, caption):
        return f"<figure>{img_tag(blob, caption, 220)}<figcaption>{html.escape(caption)}</figcaption></figure>"

    def response(self, samples, fmt, nrow=None, labels=None):
        # deferred: only the server's answers need fastapi
        from fastapi.responses import JSONResponse, Response

        if fmt == "json":
            return JSONResponse(
                {"images": [base64.b64encode(_tile_png(t)).decode() for t in samples], "shape": list(samples.shape[1:])}
            )
        return Response(grid_png(samples, nrow), media_type="image/png")

    def backbone(self, data) -> nn.Module:
        return ImageBackbone(data.shape[0])

    def augment(self, x, strength, gen):
        """Random per-image affine (shift, scale) and brightness/contrast jitter, batched."""
        b = x.shape[0]
        r = lambda *s: torch.rand(*s, generator=gen)  # noqa: E731
        scale = 1.0 - 0.3 * strength * r(b)  # zoom in up to 30%
        shift = (r(b, 2) * 2 - 1) * 0.25 * strength
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = scale
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
        if strength >= 0.5:
            contrast = (1 + (r(b, 1, 1, 1) * 2 - 1) * 0.4 * strength).to(x.device)
            bright = ((r(b, 1, 1, 1) * 2 - 1) * 0.2 * strength).to(x.device)
            out = (out * contrast + bright).clamp(-1, 1)
        return out

    def memo_vectors(self, stored, codec=None):
        return self.to_model(stored).flatten(1)  # pixel space, [-1, 1]

    def from_upload(self, body: bytes, shape, codec=None) -> torch.Tensor:
        """An uploaded image file -> stored [1, C, H, W], resized and cropped to the model's shape."""
        with Image.open(io.BytesIO(body)) as im:
            im.load()
            c, size, _ = shape
            im = square(im.convert("L" if c == 1 else "RGB"), size)
        arr = np.array(im, dtype=np.uint8).reshape(1, size, size, c)  # a writable copy for torch
        return torch.from_numpy(arr).permute(0, 3, 1, 2)

    def sanity_conditions(self, data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """name -> uint8 'samples' [n', C, H, W] with a known fault."""
        g = torch.Generator().manual_seed(seed)
        test, train = data.tensor("test"), data.tensor("train")
        real = random_rows(test, n, g)
        out = {"real (floor)": real}
        for s in (0.5, 1.0, 2.0):
            out[f"blur sigma={s}"] = blur(real, s)
        for s in (0.05, 0.1, 0.2):
            out[f"noise sigma={s}"] = noise(real, s, seed)
        if data.test_labels is not None and data.n_classes >= 2:
            y = data.labels("test")
            half = data.n_classes // 2
            out[f"classes 0..{half - 1} only"] = random_rows(test[y < half], n, g)
            out["one class (0)"] = random_rows(test[y == 0], n, g)
        out["training images"] = random_rows(train, n, g)
        return out
