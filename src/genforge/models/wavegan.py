"""WaveGAN (Donahue, McAuley & Puckette 2019): a DCGAN made one-dimensional for raw waveforms.

The paper, at 16,384 samples (about 1 s at 16 kHz), model size d = 64:

    G: z[100] -> Dense 16 * 16d -> reshape [16d, 16] -> ReLU
       -> ConvT1d 8d 25 s4 -> ReLU  [8d, 64]      -> ConvT1d 4d -> ReLU [4d, 256]
       -> ConvT1d 2d -> ReLU       [2d, 1024]     -> ConvT1d  d -> ReLU [d, 4096]
       -> ConvT1d 1 25 s4 -> tanh  [1, 16384]
    D: x [1, 16384] -> Conv1d d 25 s4 -> LReLU(0.2) -> phase shuffle(2)  [d, 4096]
       -> 2d [1024] -> 4d [256] -> 8d [64] (each LReLU + phase shuffle) -> 16d [16]
       -> LReLU -> Flatten -> Dense 1
    Loss WGAN-GP (lambda 10), 5 D steps per G step, Adam 1e-4, betas (0.5, 0.9), batch 64.

Other clip lengths T use n = ceil(log4(T / 16)) stride-4 stages: G makes 16 * 4**n samples and
its output is cropped to T; D zero-pads its input to that length. `width` scales d = 64 * width;
`kernel` is the paper's 25 (a smaller odd kernel is much faster on a CPU). Phase shuffle moves
each example's feature maps by a random -n..n samples (reflect padding) so D cannot use the
periodic artefacts of transposed convolutions. The conditional G and projection D follow DCGAN.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ..dsp import pad_to
from .base import FAMILIES, append_class
from .dcgan import DCGAN, DCGANConfig, d_norm, refuse_augment

BASE = 16  # length of G's first feature map


class WaveGANConfig(DCGANConfig):
    width: float = Field(1.0, gt=0, description="model size d = 64 * width (the paper: d = 64)")
    kernel: int = Field(25, ge=3, description="kernel size of every 1-D conv (odd; the paper: 25)")
    phase_shuffle: int = Field(2, ge=0, description="D's phase shuffle: shift features by up to this many samples")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each discriminator conv (the paper: none)")
    _no_image_augment = refuse_augment("WaveGAN takes none (phase shuffle is built in)")


def n_stages(length: int) -> int:
    """Stride-4 stages from BASE samples up to at least `length`."""
    return max(1, math.ceil(math.log(max(length, BASE) / BASE, 4) - 1e-9))


def phase_shuffle(h: torch.Tensor, n: int) -> torch.Tensor:
    """[B, C, L] -> [B, C, L], each example shifted by its own random k in -n..n with reflect padding."""
    if n == 0:
        return h
    length = h.shape[-1]
    padded = F.pad(h, (n, n), mode="reflect")  # [B, C, L + 2n]
    k = torch.randint(0, 2 * n + 1, (h.shape[0],), device=h.device)  # start offsets
    idx = (k[:, None] + torch.arange(length, device=h.device)[None]).unsqueeze(1).expand(-1, h.shape[1], -1)
    return padded.gather(2, idx)


def _dim(cfg: WaveGANConfig) -> int:
    return max(1, int(round(64 * cfg.width)))


class WaveGenerator(nn.Module):
    def __init__(self, cfg: WaveGANConfig, shape: tuple[int, int], n_classes: int = 0):
        super().__init__()
        self.n_classes, self.length = n_classes, shape[-1]
        n, d, k = n_stages(self.length), _dim(cfg), cfg.kernel
        chans = [d * 2 ** (n - 1 - i) for i in range(n)] + [shape[0]]  # paper (n=5): 16d, 8d, 4d, 2d, d, 1
        self.c0 = chans[0]
        self.fc = nn.Linear(cfg.latent_dim + n_classes, BASE * self.c0)
        layers: list[nn.Module] = []
        for i in range(n):
            # padding (k - 3) / 2 with output_padding 1: the length grows exactly 4x for any odd k
            layers.append(nn.ConvTranspose1d(chans[i], chans[i + 1], k, 4, padding=k // 2 - 1, output_padding=1))
            layers.append(nn.ReLU() if i < n - 1 else nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.fc(append_class(z, y, self.n_classes)).view(-1, self.c0, BASE)  # [B, 16d, 16]
        return self.net(torch.relu(h))[..., : self.length]  # [B, 1, 16 * 4**n] cropped to [B, 1, T]


class WaveDiscriminator(nn.Module):
    def __init__(self, cfg: WaveGANConfig, shape: tuple[int, int], n_classes: int = 0):
        super().__init__()
        n, d, k = n_stages(shape[-1]), _dim(cfg), cfg.kernel
        self.padded = BASE * 4**n
        self.shuffle = cfg.phase_shuffle
        chans = [shape[0]] + [d * 2**i for i in range(n)]  # paper: 1, d, 2d, 4d, 8d, 16d
        norms = [d_norm(cfg, chans[i + 1], first=i == 0, dims=1) for i in range(n)]
        self.convs = nn.ModuleList(
            nn.Conv1d(chans[i], chans[i + 1], k, 4, padding=k // 2, bias=norms[i] is None) for i in range(n)
        )
        self.norms = nn.ModuleList(nn.Identity() if m is None else m for m in norms)
        self.act = nn.LeakyReLU(cfg.leaky_slope)
        self.drop = nn.Dropout(cfg.dropout)
        n_features = chans[-1] * BASE
        self.out = nn.Linear(n_features, 1)
        self.embed = nn.Embedding(n_classes, n_features) if n_classes else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = pad_to(x, self.padded)  # [B, 1, 16 * 4**n]
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = self.drop(self.act(norm(conv(h))))
            if i < len(self.convs) - 1:  # the paper shuffles after every layer but the last
                h = phase_shuffle(h, self.shuffle)
        return h.flatten(1)  # [B, 16d * 16]

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.features(x)
        logit = self.out(h).squeeze(1)  # [B]
        return logit if self.embed is None else logit + (self.embed(y) * h).sum(1)


@FAMILIES.register("wavegan")
class WaveGAN(DCGAN):
    """DCGAN's training step (losses, GP, R1, n_critic, TTUR, EMA) on 1-D waveform networks."""

    name = "wavegan"
    Config = WaveGANConfig
    modality = "audio"
    generator_class = WaveGenerator
    discriminator_class = WaveDiscriminator
    tiny = ("model.width=0.0625", "model.kernel=9")
    search_space = {
        "train.lr": {"type": "float", "low": 5e-5, "high": 1e-3, "log": True},
        "train.batch_size": {"type": "categorical", "choices": [16, 32, 64]},
        "model.width": {"type": "categorical", "choices": [0.125, 0.25]},
        "model.kernel": {"type": "categorical", "choices": [9, 15, 25]},
        "model.loss": {"type": "categorical", "choices": ["wgan", "hinge"]},
        "model.phase_shuffle": {"type": "categorical", "choices": [0, 2]},
        "model.ema": {"type": "categorical", "choices": [None, 0.999]},
    }
    budget_presets = ()  # DCGAN's `wide` is measured on images only
    presets = {
        # The paper: d = 64, kernel 25, WGAN-GP with 5 critic steps, Adam 1e-4 (0.5, 0.9), batch 64.
        "paper": {
            "model": {"loss": "wgan", "gp_weight": 10.0, "n_critic": 5, "init": "torch"},
            "train": {"lr": 1e-4, "betas": [0.5, 0.9], "batch_size": 64},
        },
        # For quality per CPU-minute: d = 16 with the paper's kernel 25, hinge loss with spectral norm and one
        # D step, an EMA generator, Adam 2e-4 (0.5, 0.9), batch 32 (measured: docs/audio.md).
        "default": {
            "model": {
                "width": 0.25,
                "kernel": 25,
                "loss": "hinge",
                "spectral_norm": True,
                "ema": 0.99,
                "init": "torch",
            },
            "train": {"lr": 2e-4, "betas": [0.5, 0.9], "batch_size": 32},
        },
    }
    default_preset = "default"
