"""Shapes training throughput: a plain PyTorch loop of the voxel GAN against genforge's steps, same networks.

The reference is the loop a user would write around `voxel-gan`'s `default` networks: the non-saturating loss
with BCE on logits, D on real and fake batches, then G, two Adams; no EMA, no trainer. Grids are 32^3, uint8 as
the trainer feeds them. `python -m genforge.modalities.shapes.bench [--repeats 5 --seconds 4]` prints the table
(min / median / max of the timed windows, each row's median against the reference's, in the same run).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from ...bench import Table
from ...bench.flops import gemm_peak
from ...bench.throughput import Step, genforge_step, plain_gan_step
from ...run import resolve_config
from .. import MODALITIES
from .voxel_gan import VoxelDiscriminator, VoxelGenerator

GRID = (1, 32, 32, 32)  # model form (C, R, R, R)
HEADER = (
    "| run | batch | shapes/s min | median | max | vs reference | GFLOP/shape | GFLOP/s | of GEMM peak |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def plain_voxel_gan_step() -> tuple[Step, int]:
    """A step of the voxel GAN written plainly, with the `default` preset's networks and batch."""
    cfg = resolve_config("voxel-gan", "default")
    G, D = VoxelGenerator(cfg.model, GRID), VoxelDiscriminator(cfg.model, GRID)
    noise = lambda b: torch.randn(b, cfg.model.latent_dim)  # noqa: E731
    to_model = MODALITIES.get("shapes").to_model
    return plain_gan_step(G, D, noise, cfg.train.lr, cfg.train.betas, to_model), cfg.train.batch_size


def table(table_class, args, peak: float) -> None:
    """The plain voxel GAN loop (the reference) against genforge's voxel-gan and voxel-vae presets (the GAN's
    `default`, the VAE's `default` and `paper`)."""
    print("\n## Shapes training throughput (32^3 voxels)\n\n" + HEADER)
    grids = (torch.rand(512, *GRID) < 0.1).to(torch.uint8) * 255  # stored [N, 1, R, R, R]: a tenth filled
    t = table_class(grids, args.repeats, args.seconds, peak)
    t.row("reference: the voxel GAN's networks in a plain eager PyTorch loop", *plain_voxel_gan_step())
    # voxel-gan's `paper` (full width, 4x4x4 kernels, batch 100) takes minutes a step on one thread: left out
    for family, preset in (("voxel-gan", "default"), ("voxel-vae", "default"), ("voxel-vae", "paper")):
        t.row(f"genforge {family} `{preset}`", *genforge_step(family, preset, shape=GRID))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each timed window")
    args = ap.parse_args(argv)
    peak = statistics.median(gemm_peak(args.repeats))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 GEMM peak {peak:.0f} GFLOP/s")
    table(Table, args, peak)


if __name__ == "__main__":
    main()
