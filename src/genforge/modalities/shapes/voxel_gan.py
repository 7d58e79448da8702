"""voxel-gan: 3D-GAN (Wu, Zhang, Xue, Freeman & Tenenbaum 2016), DCGAN's training step on 3-D convolutions.

The paper, on 64^3 occupancy grids:

    G: z[200] -> ConvT3d 512 4x4x4 (from 1^3) -> BN -> ReLU       [512, 4, 4, 4]
       -> ConvT3d 256 4x4x4 s2 -> BN -> ReLU                      [256, 8, 8, 8]
       -> 128 [16^3] -> 64 [32^3] -> ConvT3d 1 4x4x4 s2 -> sigmoid [1, 64, 64, 64]
    D: the mirror: Conv3d 64 / 128 / 256 / 512 4x4x4 s2, BN, LeakyReLU 0.2 -> Conv3d 1 4x4x4 -> sigmoid
    Adam: G 0.0025, D 1e-5, beta1 0.5, batch 100; D is updated only while its accuracy on the batch is
    below 0.8.

Here the first layer is its equivalent dense layer (a 4x4x4 transposed conv of a 1^3 input is one), and the
output is tanh, the paper's sigmoid in the model form's [-1, 1]. Other resolutions drop (32^3: the 512 stage)
or add stages, as DCGAN does. Conditional (model.conditional=true) as in DCGAN: G takes [z, one_hot(y)], D is a
projection discriminator.
"""

from __future__ import annotations

from typing import Optional

import torch
from pydantic import Field
from torch import nn

from ...models.base import FAMILIES, append_class, stages
from ...models.dcgan import DCGAN, DCGANConfig, ProjectionCritic, d_norm, refuse_augment


class VoxelGANConfig(DCGANConfig):
    latent_dim: int = Field(200, ge=1, description="noise size (3D-GAN: 200)")
    kernel: int = Field(4, ge=2, description="kernel size of every 3-D conv (3D-GAN: 4)")
    d_accuracy_gate: Optional[float] = Field(
        None,
        gt=0.5,
        le=1.0,
        description="3D-GAN's rule: D is updated only while its accuracy on the batch (real and fake) is below "
        "this (the paper: 0.8); None updates it every step",
    )

    _no_image_augment = refuse_augment("a voxel GAN takes none")


def _channels(k: int, cfg: DCGANConfig) -> int:
    return max(1, int(round(min(64 * 2**k, cfg.max_channels) * cfg.width)))


def voxel_stage(conv, cin: int, cout: int, k: int, bias: bool = False) -> nn.Module:
    """A 3-D (transposed) conv that halves (or doubles) every side exactly, for any kernel size."""
    extra = {"output_padding": k % 2} if conv is nn.ConvTranspose3d else {}
    return conv(cin, cout, k, 2, (k - 1) // 2, bias=bias, **extra)


class VoxelGenerator(nn.Module):
    def __init__(self, cfg: VoxelGANConfig, shape: tuple[int, int, int, int], n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        self.side, n = stages(shape[-1])
        chans = [_channels(n - 1 - i, cfg) for i in range(n)] + [shape[0]]  # 32^3: 256, 128, 64, 1
        self.c0 = chans[0]
        d0 = self.c0 * self.side**3
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim + n_classes, d0, bias=False), nn.BatchNorm1d(d0), nn.ReLU())
        layers: list[nn.Module] = []
        for i in range(n):
            layers.append(voxel_stage(nn.ConvTranspose3d, chans[i], chans[i + 1], cfg.kernel))
            layers += [nn.BatchNorm3d(chans[i + 1]), nn.ReLU()] if i < n - 1 else [nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.fc(append_class(z, y, self.n_classes))  # [B, latent + K] -> [B, c0 * side^3]
        return self.net(h.view(-1, self.c0, self.side, self.side, self.side))  # [B, 1, R, R, R] in [-1, 1]


class VoxelDiscriminator(ProjectionCritic):
    def __init__(self, cfg: VoxelGANConfig, shape: tuple[int, int, int, int], n_classes: int = 0):
        super().__init__()
        c = shape[0]
        side, n = stages(shape[-1])
        layers: list[nn.Module] = []
        for i in range(n):  # [B, 1, R^3] -> [B, 64, (R/2)^3] -> ... -> [B, c, side^3]
            c_next = _channels(i, cfg)
            norm = d_norm(cfg, c_next, first=i == 0, dims=3)
            layers.append(voxel_stage(nn.Conv3d, c, c_next, cfg.kernel, bias=norm is None))
            layers += ([norm] if norm is not None else []) + [nn.LeakyReLU(cfg.leaky_slope), nn.Dropout(cfg.dropout)]
            c = c_next
        self.finish(layers, c * side**3, n_classes)  # the paper's last 4x4x4 conv of a 4^3 map: a dense layer


class _Frozen:
    """An optimiser whose step does nothing: D's while the accuracy gate holds it (its gradients are cleared by
    its next real step's zero_grad)."""

    def __init__(self, opt):
        self.opt = opt

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        pass


@FAMILIES.register("voxel-gan")
class VoxelGAN(DCGAN):
    """DCGAN's training step (losses, penalties, EMA, conditioning) on 3-D convolutional networks of voxels."""

    name = "voxel-gan"
    Config = VoxelGANConfig
    modality = "shapes"
    generator_class = VoxelGenerator
    discriminator_class = VoxelDiscriminator
    tiny = ("model.width=0.125", "model.latent_dim=32")
    search_space = {
        "train.lr": {"type": "float", "low": 5e-5, "high": 1e-3, "log": True},
        "train.batch_size": {"type": "categorical", "choices": [16, 32, 64]},
        "model.width": {"type": "categorical", "choices": [0.25, 0.5, 1.0]},
        "model.loss": {"type": "categorical", "choices": ["ns", "hinge"]},
        "model.d_lr_ratio": {"type": "categorical", "choices": [0.25, 1.0]},
        "model.ema": {"type": "categorical", "choices": [None, 0.999]},
    }
    budget_presets = ()
    presets = {
        # 3D-GAN as published: full width, batch norm in G and D (not D's first layer), ReLU in G, LeakyReLU 0.2
        # in D, Adam 0.0025 for G and 1e-5 for D (d_lr_ratio 0.004), beta1 0.5, batch 100, the accuracy gate.
        "paper": {
            "model": {
                "width": 1.0,
                "kernel": 4,
                "dropout": 0.0,
                "d_norm": "batch",
                "d_lr_ratio": 0.004,
                "d_accuracy_gate": 0.8,
            },
            "train": {"lr": 0.0025, "betas": [0.5, 0.999], "batch_size": 100},
        },  # fmt: skip
        # For quality per CPU-minute (docs/shapes.md): a quarter of the paper's width with 3x3x3 kernels (1.8x the
        # steps a second of 4x4x4 on a CPU), DCGAN's default recipe otherwise (an EMA generator whose decay ramps
        # up), batch 32, and two things of the paper's: the accuracy gate (without it D wins within 100 steps on
        # voxels and every sample is the same noise) and a G faster than D (here Adam 1e-3 for G, 2e-4 for D: at
        # 2e-4 for both, samples at 10 CPU-minutes are still noise-filled cubes).
        "default": {
            "model": {
                "width": 0.25,
                "kernel": 3,
                "dropout": 0.0,
                "d_norm": "batch",
                "ema": 0.999,
                "ema_warmup": True,
                "d_accuracy_gate": 0.8,
                "d_lr_ratio": 0.2,
            },
            "train": {"lr": 1e-3, "betas": [0.5, 0.999], "batch_size": 32},
        },  # fmt: skip
    }
    default_preset = "default"

    def train_step(self, x, y: Optional[torch.Tensor], opts):
        gate = self.cfg.d_accuracy_gate
        if gate is None:
            return super().train_step(x, y, opts)
        with torch.no_grad():  # the paper's rule, judged on this batch before the step
            z = torch.randn(x.shape[0], self.latent_dim, device=x.device)
            yy = y if self.conditional else None
            real, fake = self.D(x, yy), self.D(self.G(z, yy), yy)
            accuracy = float(torch.cat([real > 0, fake <= 0]).float().mean())
        return super().train_step(x, y, opts if accuracy < gate else {**opts, "d": _Frozen(opts["d"])})
