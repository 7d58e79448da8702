"""Musical statistics of sampled melodies against real ones (stats.py computes them).

- `pitch_class_tv`, `interval_tv`: total variation distance of the duration-weighted pitch-class histogram
  and of the successive-interval histogram (-12..12 semitones), all samples against all real melodies;
- `music_gap`: per-melody mean pitch (the register), pitch range, notes a bar, mean absolute interval, share
  of notes in the estimated key and share of repeated bars, each compared with real melodies' by the
  1-Wasserstein distance relative to the real spread (standard deviation), summed; the parts are listed
  beside it.

Real melodies are the training split; the floor is held-out melodies, as for every figure.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from ...evaluate.registry import register_metric
from .stats import interval_hist, per_melody, pitch_class_hist


def _melodies(ctx, stored):
    return [ctx.data.codec.to_notes(r) for r in stored.tolist()]


@register_metric(
    "music_stats",
    modalities=("music",),
    figures=("pitch_class_tv", "interval_tv", "music_gap"),
    help="distance of samples' pitch classes, intervals, range, density, key and repetition from real melodies'",
)
def music_stats(ctx, side) -> dict:
    real = _melodies(ctx, ctx.subset(ctx.data.tensor("train"), ctx.n_real, 0))
    fake = _melodies(ctx, side.stored)
    tv = lambda f: 0.5 * float(np.abs(f(real) - f(fake)).sum())  # noqa: E731
    steps = ctx.data.codec.steps
    r, f = per_melody(real, steps), per_melody(fake, steps)
    parts = {k: wasserstein_distance(f[k], r[k]) / max(float(r[k].std()), 1e-6) for k in r}
    return {
        "pitch_class_tv": {"value": tv(pitch_class_hist)},
        "interval_tv": {"value": tv(interval_hist)},
        "music_gap": {"value": float(sum(parts.values()))}
        | {k: round(float(v), 4) for k, v in parts.items()}
        | {f"{k}_mean": round(float(f[k].mean()), 3) for k in f}
        | {f"real_{k}_mean": round(float(r[k].mean()), 3) for k in r},
    }
