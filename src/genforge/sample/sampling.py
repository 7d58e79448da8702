"""Generate from a trained model: prior samples, interpolations, VAE reconstructions and manifolds.

Every function returns uint8 images [N, H, W, C]; `write_images` stores them as a
PNG grid, a `samples.npz` (key `images`) or a folder of PNGs, chosen by the path.
"""

from __future__ import annotations

import io
from pathlib import Path
from statistics import NormalDist
from typing import Optional

import numpy as np
import torch
from PIL import Image

from ..data import load_data, to_float, to_uint8
from ..errors import ConfigError, RunError
from ..io import atomic_write, save_grid
from ..models import Family


def _nhwc(x: torch.Tensor) -> np.ndarray:
    return to_uint8(x).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def prior_samples(model: Family, n: int, seed: int = 0, batch_size: int = 512) -> np.ndarray:
    """n samples from the prior; the same seed gives the same images."""
    if n < 1:
        raise ConfigError(f"-n must be at least 1, got {n}")
    return _nhwc(model.sample(n, seed=seed, batch_size=batch_size))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents a, b [D] at fractions t [T] -> [T, D].

    Gaussian latents concentrate near a sphere, so slerp keeps in-between points
    typical where a straight line (lerp) passes through the low-norm centre."""
    omega = torch.arccos(torch.clamp((a / a.norm()) @ (b / b.norm()), -1.0, 1.0))
    if omega.abs() < 1e-6:
        return torch.lerp(a, b, t[:, None])
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so)[:, None] * a + (torch.sin(t * omega) / so)[:, None] * b


@torch.no_grad()
def interpolate(model: Family, seed_a: int, seed_b: int, steps: int = 10, method: str = "slerp") -> np.ndarray:
    """`steps` images walking from the latent of seed_a to that of seed_b."""
    za = model.prior(1, torch.Generator().manual_seed(seed_a))[0]
    zb = model.prior(1, torch.Generator().manual_seed(seed_b))[0]
    t = torch.linspace(0, 1, steps, device=za.device)
    z = slerp(za, zb, t) if method == "slerp" else torch.lerp(za, zb, t[:, None])
    return _nhwc(model.eval().decode(z))


@torch.no_grad()
def reconstructions(model: Family, n: int = 32, seed: int = 0) -> np.ndarray:
    """VAE: n test images and their reconstructions, interleaved (original, reconstruction, ...)."""
    if not hasattr(model, "reconstruct"):
        raise ConfigError(f"reconstructions need a VAE; this run is a {model.name}")
    data = load_data(model.run_config.data)
    x_all = data.tensor("test")
    idx = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed))[:n]
    x = to_float(x_all[idx]).to(model.device)
    rec = model.eval().reconstruct(x)
    return _nhwc(torch.stack([x, rec], 1).flatten(0, 1))


@torch.no_grad()
def manifold(model: Family, side: int = 20) -> np.ndarray:
    """VAE with a 2-D latent: decode a side x side grid of Gaussian quantiles."""
    if model.latent_dim != 2:
        raise ConfigError(f"the manifold grid needs a 2-D latent; this model has {model.latent_dim}")
    q = torch.tensor([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, side)], dtype=torch.float32)
    zy, zx = torch.meshgrid(q.flip(0), q, indexing="ij")
    z = torch.stack([zx.flatten(), zy.flatten()], 1).to(model.device)
    return _nhwc(model.eval().decode(z))


def write_images(images: np.ndarray, out: str | Path, nrow: Optional[int] = None,
                 labels: Optional[np.ndarray] = None) -> Path:
    """Store uint8 [N, H, W, C]: `.png` -> one grid, `.npz` -> samples.npz, else a folder of PNGs."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".png":
        save_grid(out, images, nrow)
    elif suffix == ".npz":
        buf = io.BytesIO()
        arrays = {"images": images} | ({"labels": labels} if labels is not None else {})
        np.savez_compressed(buf, **arrays)
        atomic_write(out, buf.getvalue())
    elif suffix:
        raise RunError(f"--out {out}: expected a .png grid, a .npz file or a folder (no suffix)")
    else:
        out.mkdir(parents=True, exist_ok=True)
        width = len(str(len(images) - 1))
        for i, img in enumerate(images):
            Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img).save(out / f"{i:0{width}d}.png")
    return out
