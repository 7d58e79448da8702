"""Video training throughput: a plain PyTorch loop of the video GAN against genforge's step, same networks.

The reference is the loop a user would write around `videogan`'s `default` networks: the non-saturating loss
with BCE on logits, D on real and fake batches, then G, two Adams; no EMA, no trainer. Clips are 16 frames of
32 x 32 (the moving sets' default), uint8 as the trainer feeds them.
"""

from __future__ import annotations

import torch

from ...bench.throughput import Step, genforge_step, plain_gan_step
from ...run import resolve_config
from .. import MODALITIES
from .videogan import VideoDiscriminator, VideoGenerator

CLIP = (1, 16, 32, 32)  # model form (C, T, H, W)
HEADER = (
    "| run | batch | clips/s min | median | max | vs reference | GFLOP/clip | GFLOP/s | of GEMM peak |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def plain_videogan_step() -> tuple[Step, int]:
    """A step of the video GAN written plainly, with the `default` preset's networks and batch."""
    cfg = resolve_config("videogan", "default")
    G, D = VideoGenerator(cfg.model, CLIP), VideoDiscriminator(cfg.model, CLIP)
    noise = lambda b: torch.randn(b, cfg.model.latent_dim)  # noqa: E731
    to_model = MODALITIES.get("video").to_model
    return plain_gan_step(G, D, noise, cfg.train.lr, cfg.train.betas, to_model), cfg.train.batch_size


def video_table(table_class, args, peak: float) -> None:
    """The plain video GAN loop (the reference) against genforge's videogan and video-vae presets."""
    print("\n## Video training throughput (16 frames of 32 x 32)\n\n" + HEADER)
    clips = torch.randint(0, 256, (1024, CLIP[1], CLIP[0], *CLIP[2:]), dtype=torch.uint8)  # stored [N, T, C, H, W]
    table = table_class(clips, args.repeats, args.seconds, peak)
    table.row("reference: the video GAN's networks in a plain eager PyTorch loop", *plain_videogan_step())
    for family in ("videogan", "video-vae"):
        for preset in ("default", "paper"):
            table.row(f"genforge {family} `{preset}`", *genforge_step(family, preset, shape=CLIP))
