"""Figures of clips that a clip-level extractor does not give: motion against real clips, and frames as images.

- `motion_gap`: each clip's mean frame-to-frame change and the spread of that change over its frames, compared
  with real clips' by the 1-Wasserstein distance of each statistic, relative to its real mean, summed. Frozen
  clips (no change) and flickering ones (frames in a random order: too much change) score badly; the floor is
  held-out clips.
- `frame_fid`: FID of single frames in an image extractor trained on the data's frames (cached like every
  extractor), so frames that look wrong are seen apart from wrong motion. The FD of whole clips in the data's
  3-D extractor (`fd`) is FVD's idea with a network trained here in place of the I3D download.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import wasserstein_distance

from ...evaluate import metrics as M
from ...evaluate.features import get_extractor
from ...evaluate.registry import register_metric
from ..image.dataset import ImageData
from .report import frame_changes

FRAME_STEP = 8  # frames taken from every clip for frame_fid: 0, 8, ... (two of a 16-frame clip)


def motion_stats(stored: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(mean change, spread of the change) per clip of uint8 clips [N, T, C, H, W], in [0, 1] pixel units."""
    change = frame_changes(stored.numpy())  # [N, T - 1]
    return change.mean(1), change.std(1, ddof=1)  # the spread as torch's std computed it: unbiased


@register_metric(
    "motion_gap",
    modalities=("video",),
    help="distance of the clips' frame-to-frame change (mean and spread) from real clips': frozen or flickering "
    "clips score high",
)
def motion_gap(ctx, side) -> dict:
    real = motion_stats(ctx.subset(ctx.data.tensor("train"), ctx.n_real, 0))
    fake = motion_stats(side.stored)
    gap = sum(wasserstein_distance(f, r) / max(float(r.mean()), 1e-6) for f, r in zip(fake, real))
    return {
        "motion_gap": {
            "value": float(gap),
            "change": round(float(fake[0].mean()), 5),
            "real_change": round(float(real[0].mean()), 5),
            "spread": round(float(fake[1].mean()), 5),
            "real_spread": round(float(real[1].mean()), 5),
        }
    }


def frames_data(data) -> ImageData:
    """Every FRAME_STEP-th frame of each clip of a video data set, as an image data set (labels: the clips')."""

    def frames(clips: np.ndarray, labels):
        picked = clips[:, ::FRAME_STEP]  # [N, F, H, W, C]
        k = picked.shape[1]
        return picked.reshape(-1, *picked.shape[2:]), None if labels is None else np.repeat(labels, k)

    (train, train_labels), (test, test_labels) = (
        frames(data.train, data.train_labels),
        frames(data.test, data.test_labels),
    )
    return ImageData(
        name=f"{data.name} frames",
        train=train,
        test=test,
        train_labels=train_labels,
        test_labels=test_labels,
        class_names=data.class_names,
        split=data.split,
        fingerprint=f"{data.fingerprint}-frames{FRAME_STEP}",
    )


@register_metric(
    "frame_fid",
    modalities=("video",),
    help="FID of single frames in an image extractor trained on the data's frames: do frames look real?",
)
def frame_fid(ctx, side) -> dict:
    frames = frames_data(ctx.data)
    ext = get_extractor(frames, steps=ctx.train_steps, seed=ctx.seed, log=None)
    real = ext.features(ctx.subset(frames.tensor("train"), ctx.n_real, 0))
    fake = ext.features(side.stored[:, ::FRAME_STEP].flatten(0, 1))
    return {"frame_fid": M.fid(real, fake, ctx.draws, ctx.seed) | {"extractor": ext.fingerprint}}
