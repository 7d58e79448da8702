"""Generate from a trained model: prior samples, interpolations, reconstructions, traversals, manifolds.

Every function returns samples in the model's modality's user form (images:
uint8 [N, H, W, C]; text: a list of strings); `write_samples` stores them in a
format chosen by the path (PNG grid, .npz, folder; .txt, .jsonl). A conditional
model takes a class index (`class_index` turns a class name into one); without
one it samples the data's class mix. What a model can do is asked of its
family's abilities.
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist
from typing import Optional

import numpy as np
import torch

from ..config import parse_set
from ..errors import ConfigError
from ..modalities import modality_of
from ..models import Family
from ..safety.publish import publish, snapshot, written_files


def to_samples(model: Family, out: torch.Tensor):
    """Decoded outputs of `model` -> samples in its modality's user form."""
    m = modality_of(model)
    return m.to_samples(m.to_stored(out), model.codec)


def need(model: Family, ability: str, what: str) -> None:
    """A clear error when `model`'s family lacks `ability`."""
    if ability not in model.abilities:
        raise ConfigError(f"{what} needs a model that can {ability}; this run is a {model.name}")


def set_options(model: Family, sets: list[str], **shortcuts) -> None:
    """Apply `model.KEY=VALUE` items to a loaded model's config (sampling options such as
    model.temperature); each is validated and an error names the key. `shortcuts` (temperature=0.8, top_p=None)
    are such items too, those that are None left out."""
    sets = [*sets, *(f"model.{k}={v}" for k, v in shortcuts.items() if v is not None)]
    for key, value in parse_set(sets).get("model", {}).items():
        if key not in type(model.cfg).model_fields:
            raise ConfigError(f"--set model.{key}: {model.name} has no such option")
        try:
            setattr(model.cfg, key, value)
        except ValueError as e:
            raise ConfigError(
                f"--set model.{key}={value}: {e.errors()[0]['msg'] if hasattr(e, 'errors') else e}"
            ) from None
    if any(not k.startswith("model.") for k in sets):
        raise ConfigError(f"sampling takes model.* options only, got {', '.join(sets)}")


def class_index(model: Family, name: Optional[str | int]) -> Optional[int]:
    """A class name (case-insensitive) or index of the model's data -> its index; None stays None."""
    if name is None:
        return None
    names = (getattr(model, "dataset_info", None) or {}).get("class_names") or []
    if not model.conditional:
        raise ConfigError(
            f"class '{name}' was asked for, but this model is unconditional "
            "(train with --set model.conditional=true on labelled data)"
        )
    lowered = [str(c).lower() for c in names]
    if str(name).lower() in lowered:
        return lowered.index(str(name).lower())
    if str(name).isdigit() and int(name) < model.n_classes:
        return int(name)
    raise ConfigError(
        f"unknown class '{name}'; expected one of: {', '.join(map(str, names))} (or an index 0..{model.n_classes - 1})"
    )


@torch.no_grad()
def prior_samples(
    model: Family,
    n: int,
    seed: int = 0,
    batch_size: int = 512,
    label: Optional[int] = None,
    prompt: Optional[str] = None,
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(n samples from the prior, their labels or None); the same seed gives the same images.
    A model with the `prompt` ability draws them for a free-text prompt."""
    if n < 1:
        raise ConfigError(f"-n must be at least 1, got {n}")
    if prompt is not None and label is not None:
        raise ConfigError("give a class or a prompt, not both")
    x, y = model.sample_with_labels(n, seed=seed, batch_size=batch_size, label=label, prompt=prompt)
    return to_samples(model, x), None if y is None else y.cpu().numpy()


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
def interpolate(
    model: Family,
    seed_a: int,
    seed_b: int,
    steps: int = 10,
    method: str = "slerp",
    label: Optional[int] = None,
    t: Optional[torch.Tensor] = None,
) -> np.ndarray:
    """Samples walking from the latent of seed_a to that of seed_b (`steps` of them, or at fractions t).
    A conditional model keeps one class along the path: `label`, or seed_a's."""
    need(model, "interpolate", "interpolation")
    za, y = seed_latent(model, seed_a, label)
    zb, _ = seed_latent(model, seed_b)
    t = torch.linspace(0, 1, steps) if t is None else t
    t = t.to(za.device)
    z = slerp(za, zb, t) if method == "slerp" else torch.lerp(za, zb, t[:, None])
    return to_samples(model, model.eval().decode(z, None if y is None else y.expand(len(z))))


@torch.no_grad()
def interpolate_inputs(model: Family, a: torch.Tensor, b: torch.Tensor, steps: int = 8, label: Optional[int] = None):
    """Decodings along the straight line between the posterior means of two inputs (stored form,
    [1, ...] each): Bowman et al.'s homotopies between two sentences. The path's ends are the
    reconstructions of a and b."""
    need(model, "reconstruct", "interpolation between two inputs")
    y = model.labels(1, label=label)
    za, zb = (model.eval().encode(modality_of(model).to_model(v).to(model.device), y)[0][0] for v in (a, b))
    z = torch.lerp(za, zb, torch.linspace(0, 1, steps, device=za.device)[:, None])
    return to_samples(model, model.decode(z, None if y is None else y.expand(steps)))


@torch.no_grad()
def traverse(
    model: Family, seed: int, dim: int, steps: int = 9, span: float = 3.0, label: Optional[int] = None
) -> np.ndarray:
    """Vary latent dimension `dim` of seed's latent over [-span, span] (`steps` samples)."""
    need(model, "traverse", "a latent traversal")
    if not 0 <= dim < model.latent_dim:
        raise ConfigError(f"dim must be in 0..{model.latent_dim - 1}, got {dim}")
    z, y = seed_latent(model, seed, label)
    z = z.repeat(steps, 1)
    z[:, dim] = torch.linspace(-span, span, steps, device=z.device)
    return to_samples(model, model.eval().decode(z, None if y is None else y.expand(steps)))


@torch.no_grad()
def reconstructions(model: Family, n: int = 32, seed: int = 0, data=None):
    """n test items and their reconstructions, interleaved (original, reconstruction, ...)."""
    need(model, "reconstruct", "reconstructions")
    mod = modality_of(model)
    data = data if data is not None else mod.load(model.run_config.data, model.run_dir)
    x_all = data.tensor("test")
    idx = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed))[:n]
    x = mod.to_model(x_all[idx]).to(model.device)
    y = data.labels("test", model.device)[idx] if model.conditional else None
    rec = mod.to_stored(model.eval().reconstruct(x, y))
    return mod.to_samples(torch.stack([x_all[idx], rec], 1).flatten(0, 1), data.codec)


@torch.no_grad()
def held_out(model: Family, n: int = 8, seed: int = 0) -> tuple[np.ndarray, list[str], str]:
    """Families with `from_data`: (samples, a row name per item, a caption): n held-out items drawn by `seed`
    and what the model makes of them (restorations, translations), n to a row."""
    if "from_data" not in model.abilities:
        raise ConfigError(
            f"--mode held-out shows what a model makes of held-out items (pix2pix, cyclegan); "
            f"this run is a {model.name}"
        )
    caption, rows = model.eval().held_out_rows(n, torch.Generator().manual_seed(seed))
    mod = modality_of(model)
    samples = mod.to_samples(mod.to_stored(torch.cat([r for _, r in rows])), model.codec)
    return samples, [name for name, _ in rows for _ in range(n)], caption


@torch.no_grad()
def manifold(model: Family, side: int = 20, label: Optional[int] = None) -> np.ndarray:
    """VAE with a 2-D latent: decode a side x side grid of Gaussian quantiles (of class `label`)."""
    need(model, "traverse", "the manifold grid")
    if model.latent_dim != 2:
        raise ConfigError(f"the manifold grid needs a 2-D latent; this model has {model.latent_dim}")
    q = torch.tensor([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, side)], dtype=torch.float32)
    zy, zx = torch.meshgrid(q.flip(0), q, indexing="ij")
    z = torch.stack([zx.flatten(), zy.flatten()], 1).to(model.device)
    # one class for the whole grid (a conditional model's manifold is per class): `label`, else the first
    y = model.labels(len(z), label=label if label is not None or not model.conditional else 0)
    return to_samples(model, model.eval().decode(z, y))


def write_samples(
    model: Family,
    samples,
    out: str | Path,
    nrow: Optional[int] = None,
    labels: Optional[np.ndarray] = None,
    **provenance,
) -> Path:
    """Store samples of `model` at `out` in the format its modality picks from the suffix, each file signed
    (C2PA) and fingerprinted in the run's generation log; `provenance` (seed, mode, the guards' counts) goes
    into both."""
    before = snapshot(out)
    path = modality_of(model).write(samples, out, labels, nrow, (model.dataset_info or {}).get("class_names"))
    publish(model, written_files(path, before), samples, **provenance)
    return path
