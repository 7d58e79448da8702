"""Video training throughput: a plain PyTorch loop of the video GAN against genforge's step, same networks.

The reference is the loop a user would write around `videogan`'s `default` networks: the non-saturating loss
with BCE on logits, D on real and fake batches, then G, two Adams; no EMA, no trainer. Clips are 16 frames of
32 x 32 (the moving sets' default), uint8 as the trainer feeds them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...bench.throughput import Step, genforge_step
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
    opt_g = torch.optim.Adam(G.parameters(), cfg.train.lr, betas=tuple(cfg.train.betas))
    opt_d = torch.optim.Adam(D.parameters(), cfg.train.lr, betas=tuple(cfg.train.betas))
    to_model = MODALITIES.get("video").to_model

    def step(x):
        real = to_model(x)
        fake = G(torch.randn(len(real), cfg.model.latent_dim))
        real_logits, fake_logits = D(real), D(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        loss_d = loss_d + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        logits = D(fake)
        loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    return step, cfg.train.batch_size


def video_table(table_class, args, peak: float) -> None:
    """The plain video GAN loop (the reference) against genforge's videogan and video-vae presets."""
    print("\n## Video training throughput (16 frames of 32 x 32)\n\n" + HEADER)
    clips = torch.randint(0, 256, (1024, CLIP[1], CLIP[0], *CLIP[2:]), dtype=torch.uint8)  # stored [N, T, C, H, W]
    table = table_class(clips, args.repeats, args.seconds, peak)
    table.row("reference: the video GAN's networks in a plain eager PyTorch loop", *plain_videogan_step())
    for family in ("videogan", "video-vae"):
        for preset in ("default", "paper"):
            table.row(f"genforge {family} `{preset}`", *genforge_step(family, preset, shape=CLIP))
