"""Animations of an image model: smooth loops through its latent space, written as animated GIF / WebP / MP4.

A walk visits `points` latents drawn from the model's prior and comes back to the first, along great circles
(`slerp`: Gaussian latents lie near a sphere, so every frame is a typical latent); each leg has `frames`
frames, and the last frame is the first again, so the file loops without a jump. A conditional model keeps
one class along a walk: the class asked for, or a row of walks for every class (one walk a class: a row of
them). The walks are clips, written by the video modality.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import ConfigError
from ..modalities import MODALITIES, modality_of
from ..modalities.video.modality import Videos
from ..models import Family
from ..safety.publish import publish, snapshot, written_files
from .sampling import need, slerp, to_samples


def loop_path(z: torch.Tensor, frames: int) -> torch.Tensor:
    """Latents z [P, D] -> a closed path [P * frames + 1, D] through them and back to z[0] (slerp legs)."""
    t = torch.linspace(0, 1, frames + 1, device=z.device)[:-1]
    legs = [slerp(z[i], z[(i + 1) % len(z)], t) for i in range(len(z))]
    return torch.cat([*legs, z[:1]])


@torch.no_grad()
def animate(
    model: Family,
    walks: int = 1,
    frames: int = 12,
    points: int = 4,
    seed: int = 0,
    label: Optional[int] = None,
    fps: float = 12.0,
    batch_size: int = 256,
) -> tuple[Videos, Optional[np.ndarray], Optional[int]]:
    """(clips [K, points * frames + 1, H, W, C] at `fps`, each walk's class or None, walks a row or None) of
    `walks` closed walks; a conditional model without `label` shares them out over its classes, a row a class
    (one walk a class: all in one row)."""
    need(model, "interpolate", "an animation")
    if modality_of(model).name != "image":
        raise ConfigError(f"--mode animate walks an image model's latent space; this run is a {model.name}")
    if walks < 1 or frames < 1 or points < 2:
        raise ConfigError(
            f"an animation needs -n >= 1 walks, --frames >= 1 and --points >= 2; got {walks}, {frames}, {points}"
        )
    gen = torch.Generator().manual_seed(seed)
    if model.conditional and label is None:
        per_class = max(1, walks // model.n_classes)
        classes = torch.arange(model.n_classes).repeat_interleave(per_class)
        per_row = per_class if per_class > 1 else model.n_classes  # a row a class, or one walk a class in a row
    else:
        classes = model.labels(walks, gen, label)
        per_row = None
    path_len = points * frames + 1
    classes = None if classes is None else classes.to(model.device)
    paths = [
        loop_path(model.prior(points, gen, None if classes is None else classes[k].expand(points)), frames)
        for k in range(walks if classes is None else len(classes))
    ]
    y = None if classes is None else classes.repeat_interleave(path_len)  # each walk keeps its class
    images = to_samples(model, model.decode_batches(torch.cat(paths), y, batch_size))  # uint8 [K * path_len, H, W, C]
    clips = Videos(images.reshape(-1, path_len, *images.shape[1:]), fps)
    return clips, None if classes is None else classes.cpu().numpy(), per_row


def write_animation(model: Family, clips: Videos, out: str | Path, nrow=None, labels=None) -> Path:
    """Walks of `animate` as one animated grid (.gif, .webp, .mp4), .npz or a folder of GIFs, signed and logged
    as `write_samples` does."""
    names = (model.dataset_info or {}).get("class_names")
    before = snapshot(out)
    path = MODALITIES.get("video").write(clips, out, labels, nrow, names)
    publish(model, written_files(path, before), mode="animate")
    return path
