"""A video GAN: DCGAN's training step on 3-D convolutional networks over (time, height, width).

After VGAN (Vondrick, Pirsiavash & Torralba 2016), whose one-stream generator is a DCGAN grown a time axis:

    G: z[100] -> [512, 2, 4, 4] -> ConvT3d 256 4x4x4 s2 -> BN -> ReLU  [256, 4, 8, 8]
       -> 128 [8, 16, 16] -> 64 [16, 32, 32] -> ConvT3d C 4x4x4 s2 -> tanh  [C, 32, 64, 64]
    D: the mirror: Conv3d 64 / 128 / 256 / 512 4x4x4 s2, BN (not on the first), LeakyReLU 0.2 -> 1 logit
    Adam 2e-4, beta1 0.5, batch 64.

Other clip shapes add or remove stages as DCGAN does (`stages`): every stage doubles height and width, the
first ones also the frames (as many as the frame count halves), the others keep the frames with a kernel of
3 in time. Any kernel size works: stride-2 layers pad (k - 1) // 2 (and odd kernels add an output padding of
1), so each doubles or halves a side exactly. VGAN's second, static background stream is left out: the
moving sets' background is black, and a static background is one more thing a 3-D convolution learns.
Conditional (model.conditional=true) as in DCGAN: G takes [z, one_hot(y)], D is a projection discriminator.
"""

from __future__ import annotations

from typing import Literal, Optional

import torch
from pydantic import Field, model_validator
from torch import nn

from ...errors import ConfigError
from ...models.base import FAMILIES, append_class, stages
from ...models.dcgan import DCGAN, DCGANConfig, Discriminator, Generator, ProjectionCritic, d_norm, refuse_augment


class VideoGANConfig(DCGANConfig):
    kernel: int = Field(4, ge=2, description="kernel size of every 3-D conv in height and width (VGAN: 4)")
    generator: Literal["3d", "content-motion"] = Field(
        "3d",
        description="3d: one 3-D convolutional stream (VGAN); content-motion: MoCoGAN's split, a clip's content "
        "code and a GRU's motion code per frame drawn by a 2-D DCGAN generator frame by frame",
    )
    motion_dim: int = Field(16, ge=1, description="content-motion: the latent's last motion_dim values are motion")
    frame_critic: bool = Field(
        False, description="D adds MoCoGAN's image discriminator: a 2-D DCGAN critic of 4 frames a clip, averaged"
    )

    @model_validator(mode="after")
    def _frames_take_odd_kernels(self):
        if (self.generator == "content-motion" or self.frame_critic) and self.kernel % 2 == 0:
            raise ValueError("content-motion and frame_critic draw frames with DCGAN's 2-D nets: use an odd kernel")
        if self.generator == "content-motion" and self.motion_dim >= self.latent_dim:
            raise ValueError(f"motion_dim={self.motion_dim} leaves no content code in latent_dim={self.latent_dim}")
        return self

    _no_image_augment = refuse_augment("a video GAN takes none")


def plan(shape: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """(frames at the start, side at the start, stages, stages that also double the frames) for clips
    (C, T, H, W): VGAN's 32 x 64 x 64 starts from 2 x 4 x 4 with four stages, all of them doubling the frames."""
    _, t, h, _ = shape
    side, n = stages(h)
    if n == 0:
        raise ConfigError(f"a video GAN's frames must halve at least once; {h} px frames do not (use 8, 16, 32, 64)")
    tn = 0
    while tn < n and t % 2 ** (tn + 1) == 0:
        tn += 1
    return t >> tn, side, n, tn


def _channels(k: int, cfg: VideoGANConfig) -> int:
    return max(1, int(round(min(64 * 2**k, cfg.max_channels) * cfg.width)))


def conv_stage(conv, cin: int, cout: int, k: int, time_stride: int, bias: bool = False):
    """A 3-D (transposed) conv halving or doubling height and width, and the frames when time_stride is 2."""
    kt = k if time_stride == 2 else 3
    pad = ((kt - 1) // 2, (k - 1) // 2, (k - 1) // 2)
    extra = {}
    if conv is nn.ConvTranspose3d:
        extra["output_padding"] = ((kt % 2) * (time_stride - 1), k % 2, k % 2)
    return conv(cin, cout, (kt, k, k), (time_stride, 2, 2), pad, bias=bias, **extra)


class VideoGenerator(nn.Module):
    def __init__(self, cfg: VideoGANConfig, shape: tuple[int, int, int, int], n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        self.t0, self.side, n, tn = plan(shape)
        chans = [_channels(n - 1 - i, cfg) for i in range(n)] + [shape[0]]  # VGAN (n=4): 512, 256, 128, 64, C
        self.c0 = chans[0]
        d0 = self.c0 * self.t0 * self.side**2
        act = lambda: nn.LeakyReLU(cfg.leaky_slope)  # noqa: E731
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim + n_classes, d0, bias=False), nn.BatchNorm1d(d0), act())
        layers: list[nn.Module] = []
        for i in range(n):
            layers.append(conv_stage(nn.ConvTranspose3d, chans[i], chans[i + 1], cfg.kernel, 2 if i < tn else 1))
            layers += [nn.BatchNorm3d(chans[i + 1]), act()] if i < n - 1 else [nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.fc(append_class(z, y, self.n_classes))  # [B, latent + K] -> [B, c0 * t0 * side * side]
        h = h.view(-1, self.c0, self.t0, self.side, self.side)  # [B, c0, t0, side, side]
        return self.net(h)  # [B, C, T, H, W] in [-1, 1]


class VideoDiscriminator(ProjectionCritic):
    def __init__(self, cfg: VideoGANConfig, shape: tuple[int, int, int, int], n_classes: int = 0):
        super().__init__()
        c = shape[0]
        t0, side, n, tn = plan(shape)
        layers: list[nn.Module] = []
        for i in range(n):
            c_next = _channels(i, cfg)
            norm = d_norm(cfg, c_next, first=i == 0, dims=3)
            layers.append(conv_stage(nn.Conv3d, c, c_next, cfg.kernel, 2 if i < tn else 1, bias=norm is None))
            layers += ([norm] if norm is not None else []) + [nn.LeakyReLU(cfg.leaky_slope), nn.Dropout(cfg.dropout)]
            c = c_next
        # every stage halves height and width exactly (and the frames, for the first tn): G's start, mirrored
        self.finish(layers, c * t0 * side * side, n_classes)


class ContentMotionGenerator(nn.Module):
    """MoCoGAN's split (Tulyakov et al. 2018): z = [content, motion]; a GRU unrolls the motion code over the
    frames (its inputs are learned per-frame vectors, so a clip is a function of z), and DCGAN's 2-D generator
    draws frame t from [content, motion_t (, one_hot(y))]."""

    def __init__(self, cfg: VideoGANConfig, shape: tuple[int, int, int, int], n_classes: int = 0):
        super().__init__()
        c, self.t, h, w = shape
        self.dm = cfg.motion_dim
        self.steps = nn.Parameter(torch.randn(self.t, self.dm) * 0.1)  # [T, dm] the GRU's inputs
        self.gru = nn.GRU(self.dm, self.dm, batch_first=True)
        self.frames = Generator(cfg, (c, h, w), n_classes)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        # z.shape[0], not len(z): an exported graph keeps the batch size as a variable
        content, motion = z[:, : -self.dm], z[:, -self.dm :]  # [B, D - dm], [B, dm]
        m, _ = self.gru(self.steps.expand(z.shape[0], -1, -1), motion.unsqueeze(0).contiguous())  # [B, T, dm]
        per_frame = torch.cat([content.unsqueeze(1).expand(-1, self.t, -1), m], 2).flatten(0, 1)  # [B * T, D]
        frames = self.frames(per_frame, None if y is None else y.repeat_interleave(self.t))  # [B * T, C, H, W]
        return frames.unflatten(0, (-1, self.t)).transpose(1, 2)  # [B, C, T, H, W] in [-1, 1]


class VideoCritic(nn.Module):
    """The 3-D discriminator, with MoCoGAN's image discriminator over four frames a clip added when asked."""

    def __init__(self, cfg: VideoGANConfig, shape: tuple[int, int, int, int], n_classes: int = 0):
        super().__init__()
        c, t, h, w = shape
        self.stride = max(1, t // 4)  # MoCoGAN's image critic sees one frame a clip; four are a steadier signal
        self.video = VideoDiscriminator(cfg, shape, n_classes)
        self.image = Discriminator(cfg, (c, h, w), n_classes) if cfg.frame_critic else None

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        logits = self.video(x, y)  # [B]
        if self.image is None:
            return logits
        frames = x[:, :, :: self.stride].transpose(1, 2)  # [B, F, C, H, W]: F = 4 frames evenly spaced
        f = frames.shape[1]
        per_frame = self.image(frames.flatten(0, 1), None if y is None else y.repeat_interleave(f))  # [B * F]
        return logits + per_frame.view(len(x), f).mean(1)


def video_generator(cfg: VideoGANConfig, shape, n_classes: int = 0) -> nn.Module:
    """The generator `model.generator` names."""
    cls = ContentMotionGenerator if cfg.generator == "content-motion" else VideoGenerator
    return cls(cfg, shape, n_classes)


@FAMILIES.register("videogan")
class VideoGAN(DCGAN):
    """DCGAN's training step (losses, penalties, n_critic, TTUR, EMA) on 3-D convolutional networks."""

    name = "videogan"
    Config = VideoGANConfig
    modality = "video"
    generator_class = staticmethod(video_generator)
    discriminator_class = VideoCritic
    tiny = ("model.width=0.125", "model.kernel=3")
    search_space = {
        "train.lr": {"type": "float", "low": 5e-5, "high": 1e-3, "log": True},
        "train.batch_size": {"type": "categorical", "choices": [16, 32, 64]},
        "model.width": {"type": "categorical", "choices": [0.125, 0.25, 0.5]},
        "model.kernel": {"type": "categorical", "choices": [3, 4]},
        "model.loss": {"type": "categorical", "choices": ["ns", "hinge"]},
        "model.d_norm": {"type": "categorical", "choices": ["none", "batch"]},
        "model.ema": {"type": "categorical", "choices": [None, 0.999]},
    }
    budget_presets = ()  # DCGAN's `wide` is measured on images only
    presets = {
        # VGAN (Vondrick et al. 2016): 4x4x4 kernels, full width (64..512 channels), batch norm in G and in D
        # but its first layer, the non-saturating loss, Adam 2e-4 / 0.5, batch 64, N(0, 0.02) init.
        "paper": {
            "model": {"kernel": 4, "width": 1.0, "dropout": 0.0, "d_norm": "batch"},
            "train": {"lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 64},
        },
        # For quality per CPU-minute (measured: docs/video.md): a quarter of VGAN's width with 3x3x3 kernels,
        # DCGAN's default recipe otherwise (batch norm in D, an EMA generator whose decay ramps up, Adam 4e-4
        # / 0.5), batch 32.
        "default": {
            "model": {"kernel": 3, "width": 0.25, "dropout": 0.0, "d_norm": "batch", "ema": 0.999, "ema_warmup": True},
            "train": {"lr": 4e-4, "betas": [0.5, 0.999], "batch_size": 32},
        },
    }
    default_preset = "default"
