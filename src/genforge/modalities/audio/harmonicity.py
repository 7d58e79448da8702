"""Harmonic-to-noise ratio: how much of a sound repeats at its pitch period and how much is noise.

A note whose harmonics sit in a bed of noise (Griffin-Lim's guessed phase, a GAN's hiss) has the right pitch and
the wrong sound; the pitch figures do not see it. The ratio follows Boersma (1993), Praat's harmonicity: on each
clip's loudest 2,048-sample frame, the normalised autocorrelation r at the period the YIN tracker hears (the best
of the lags one sample either side) splits the frame's power into a periodic share r and a noise share 1 - r,
and HNR = 10 log10(r / (1 - r)) dB, r kept to [0.001, 0.999] (-30 .. 30 dB); a silent or unpitched clip scores
-30 dB. `harmonic_gap` is the 1-Wasserstein distance (dB) between the samples' ratios and real training clips',
so a model that is too clean is seen as well as one too noisy; the floor is held-out clips.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from ...evaluate.registry import register_metric
from .dsp import PITCH_FRAME, loudest_frames, pitch_hz

LIMIT = 0.999  # r kept to [1 - LIMIT, LIMIT]: +-30 dB


def harmonic_to_noise_db(clips: np.ndarray, rate: int) -> np.ndarray:
    """Clips [N, T] (float, any scale) -> harmonic-to-noise ratio in dB [N]."""
    w = PITCH_FRAME
    frames = loudest_frames(clips, w)  # [N, 2w]
    period = rate / pitch_hz(clips, rate)  # [N] samples, NaN where no pitch is heard
    out = np.full(len(frames), 10 * np.log10((1 - LIMIT) / LIMIT))
    for i, (x, p) in enumerate(zip(frames, period)):
        if not np.isfinite(p):
            continue
        head = x[:w]
        best = 0.0
        for lag in range(max(1, int(round(p)) - 1), min(w, int(round(p)) + 2)):
            tail = x[lag : lag + w]
            norm = np.sqrt((head**2).sum() * (tail**2).sum())
            best = max(best, float((head * tail).sum() / norm) if norm > 0 else 0.0)
        r = min(max(best, 1 - LIMIT), LIMIT)
        out[i] = 10 * np.log10(r / (1 - r))
    return out


@register_metric(
    "harmonic_gap",
    modalities=("audio",),
    help="distance (dB) of the samples' harmonic-to-noise ratios from real clips': hiss between harmonics "
    "(or a sound cleaner than the data's) scores high",
)
def harmonic_gap(ctx, side) -> dict:
    def db(stored):  # int16 clips [n, 1, T] -> [n] dB
        return harmonic_to_noise_db(ctx.modality.to_model(stored).squeeze(1).numpy(), ctx.data.sample_rate)

    real, fake = db(ctx.subset(ctx.data.tensor("train"), ctx.n_real, 0)), db(side.stored)
    return {
        "harmonic_gap": {
            "value": float(wasserstein_distance(fake, real)),
            "median_db": round(float(np.median(fake)), 2),
            "real_median_db": round(float(np.median(real)), 2),
        }
    }
