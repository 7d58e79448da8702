"""Generate from a trained model: prior samples, interpolations, VAE reconstructions and manifolds.

Every function returns uint8 images [N, H, W, C]; `write_images` stores them as a
PNG grid, a `samples.npz` (key `images`, and `labels` for a conditional model) or
a folder of PNGs, chosen by the path. A conditional model takes a class index
(`class_index` turns a class name into one); without one it samples the data's
class mix.
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


def class_index(model: Family, name: Optional[str | int]) -> Optional[int]:
    """A class name (case-insensitive) or index of the model's data -> its index; None stays None."""
    if name is None:
        return None
    names = (getattr(model, "dataset_info", None) or {}).get("class_names") or []
    if not model.conditional:
        raise ConfigError(f"class '{name}' was asked for, but this model is unconditional "
                          "(train with --set model.conditional=true on labelled data)")
    lowered = [str(c).lower() for c in names]
    if str(name).lower() in lowered:
        return lowered.index(str(name).lower())
    if str(name).isdigit() and int(name) < model.n_classes:
        return int(name)
    raise ConfigError(f"unknown class '{name}'; expected one of: {', '.join(map(str, names))} (or an index 0..{model.n_classes - 1})")


@torch.no_grad()
def prior_samples(model: Family, n: int, seed: int = 0, batch_size: int = 512,
                  label: Optional[int] = None) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(n samples from the prior, their labels or None); the same seed gives the same images."""
    if n < 1:
        raise ConfigError(f"-n must be at least 1, got {n}")
    x, y = model.sample_with_labels(n, seed=seed, batch_size=batch_size, label=label)
    return _nhwc(x), None if y is None else y.cpu().numpy()


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents a, b [D] at fractions t [T] -> [T, D].

    Gaussian latents concentrate near a sphere, so slerp keeps in-between points
    typical where a straight line (lerp) passes through the low-norm centre."""
    omega = torch.arccos(torch.clamp((a / a.norm()) @ (b / b.norm()), -1.0, 1.0))
    if omega.abs() < 1e-6:
        return torch.lerp(a, b, t[:, None])
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so)[:, None] * a + (torch.sin(t * omega) / so)[:, None] * b


def seed_latent(model: Family, seed: int, label: Optional[int] = None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The latent [D] and label ([1] or None) of one seed, as interpolations and traversals use them."""
    gen = torch.Generator().manual_seed(seed)
    z = model.prior(1, gen)[0]
    return z, model.labels(1, gen, label)


@torch.no_grad()
def interpolate(model: Family, seed_a: int, seed_b: int, steps: int = 10, method: str = "slerp",
                label: Optional[int] = None, t: Optional[torch.Tensor] = None) -> np.ndarray:
    """Images walking from the latent of seed_a to that of seed_b (`steps` of them, or at fractions t).
    A conditional model keeps one class along the path: `label`, or seed_a's."""
    za, y = seed_latent(model, seed_a, label)
    zb, _ = seed_latent(model, seed_b)
    t = torch.linspace(0, 1, steps) if t is None else t
    t = t.to(za.device)
    z = slerp(za, zb, t) if method == "slerp" else torch.lerp(za, zb, t[:, None])
    return _nhwc(model.eval().decode(z, None if y is None else y.expand(len(z))))


@torch.no_grad()
def traverse(model: Family, seed: int, dim: int, steps: int = 9, span: float = 3.0,
             label: Optional[int] = None) -> np.ndarray:
    """Vary latent dimension `dim` of seed's latent over [-span, span] (`steps` images)."""
    if not 0 <= dim < model.latent_dim:
        raise ConfigError(f"dim must be in 0..{model.latent_dim - 1}, got {dim}")
    z, y = seed_latent(model, seed, label)
    z = z.repeat(steps, 1)
    z[:, dim] = torch.linspace(-span, span, steps, device=z.device)
    return _nhwc(model.eval().decode(z, None if y is None else y.expand(steps)))


@torch.no_grad()
def reconstructions(model: Family, n: int = 32, seed: int = 0) -> np.ndarray:
    """VAE: n test images and their reconstructions, interleaved (original, reconstruction, ...)."""
    if not hasattr(model, "reconstruct"):
        raise ConfigError(f"reconstructions need a VAE; this run is a {model.name}")
    data = load_data(model.run_config.data)
    x_all = data.tensor("test")
    idx = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed))[:n]
    x = to_float(x_all[idx]).to(model.device)
    y = data.labels("test", model.device)[idx] if model.conditional else None
    rec = model.eval().reconstruct(x, y)
    return _nhwc(torch.stack([x, rec], 1).flatten(0, 1))


@torch.no_grad()
def manifold(model: Family, side: int = 20, label: Optional[int] = None) -> np.ndarray:
    """VAE with a 2-D latent: decode a side x side grid of Gaussian quantiles (of class `label`)."""
    if model.latent_dim != 2:
        raise ConfigError(f"the manifold grid needs a 2-D latent; this model has {model.latent_dim}")
    q = torch.tensor([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, side)], dtype=torch.float32)
    zy, zx = torch.meshgrid(q.flip(0), q, indexing="ij")
    z = torch.stack([zx.flatten(), zy.flatten()], 1).to(model.device)
    # one class for the whole grid (a conditional model's manifold is per class): `label`, else the first
    y = model.labels(len(z), label=label if label is not None or not model.conditional else 0)
    return _nhwc(model.eval().decode(z, y))


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
