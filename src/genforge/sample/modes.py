"""`genforge sample --mode ...`: what each mode draws from a model, as one function the CLI and tests call."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ..errors import ConfigError
from ..modalities import modality_of
from ..models import Family
from ..safety.guard import guarded_samples
from .sampling import held_out, interpolate, interpolate_inputs, manifold, reconstructions

MODES = ("prior", "interpolate", "reconstruct", "manifold", "held-out")


def read_inputs(model: Family, between: Sequence[str]) -> list:
    """The two `--between` inputs in stored form: a file's bytes, or the text itself (a sentence)."""
    if len(between) != 2:
        raise ConfigError(f"--between takes exactly two inputs, got {len(between)}")
    mod, inputs = modality_of(model), []
    for v in between:
        try:
            inputs.append(
                mod.from_upload(Path(v).read_bytes() if Path(v).is_file() else v.encode(), model.shape, model.codec)
            )
        except (ValueError, OSError) as e:
            raise ConfigError(f"--between {v}: {e}") from None
    return inputs


def draw(
    model: Family,
    mode: str,
    n: int,
    seed: int = 0,
    seed_b: int = 1,
    between: Sequence[str] = (),
    label: Optional[int] = None,
    prompt: Optional[str] = None,
    guards: Optional[dict] = None,
):
    """(samples, their labels or None, samples a row or None, what the file's manifest adds) of one sampling
    mode (MODES). Prior samples pass the guards (`guards`: guarded_samples' allow_copies, screen, block_list)."""
    info = {"mode": mode, "seed": seed}
    if mode == "prior":
        samples, labels, report = guarded_samples(model, n, seed, label, prompt, **(guards or {}))
        return samples, labels, None, {**info, "guards": report.as_dict()}
    if mode == "interpolate" and between:
        a, b = read_inputs(model, between)
        return interpolate_inputs(model, a, b, n, label=label), None, n, info
    if mode == "interpolate":
        return interpolate(model, seed, seed_b, n, label=label), None, n, info
    if mode == "reconstruct":
        return reconstructions(model, n, seed), None, 16, info
    if mode == "held-out":
        return held_out(model, n, seed)[0], None, n, info
    if mode == "manifold":
        samples = manifold(model, label=label)
        return samples, None, int(round(len(samples) ** 0.5)), info
    raise ConfigError(f"unknown sampling mode '{mode}'; expected one of: {', '.join(MODES)}, animate")
