"""image-motion: a good image model first, motion after (after MoCoGAN-HD, Tian et al. 2021, and MoCoGAN's split
of content and motion, Tulyakov et al. 2018).

A clip is one picture, a place to start and a path. The image model (genforge's DCGAN or VAE, with its own
presets, training step and sampling prior) learns the clips' frames as still pictures, each moved so that its
centre of brightness is in the middle (`centre`: the item alone, wherever it was, a far easier picture to learn
than an item anywhere in the frame); a clip starts where one of the training clips starts, and a motion generator
learns the path from there:

    z = [content (image model's latent), motion code [dm]]
    picture = image_model(content)                                   [B, C, H, W] in [-1, 1], centred
    start   = a training clip's first centre, picked by code[0]'s normal quantile      [B, 2] in [-1, 1]
    path    = GRU(code, start): offsets d_0 = 0, d_t = d_t-1 + a bounded step           [B, T, 2]
    clip_t  = picture moved to start + d_t, in whole pixels; black comes in at the edges [B, C, T, H, W]

The motion generator is trained adversarially against a 3-D convolutional video critic (the video GAN's
discriminator) on real clips' first frames: real clips against their first frame moved along a generated path,
so the critic judges the motion alone and the image model's early, poor pictures do not slow it. Both parts
train in every step (the image model on `image_frames` frames of each clip), so any time budget is shared
between them without a schedule. The starting places are the data's own (kept when training starts), not
learnt: a placement learnt against the critic put items across the edges, gave the critic an easy win and never
recovered (measured: the motion loss only grew).

One rigid layer: this suits clips whose content moves over a plain background (the moving sets, a product on a
turntable's backdrop, a sprite); clips with two independent items or a moving camera over a scene want the
one-stream `videogan` (or `centre=false`, which keeps the frames as they are and moves the whole scene from where
the image model drew it). The path knows where the content is, so it learns to turn at the edges.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch
from pydantic import Field, ValidationError, model_validator
from torch import nn

from ...config import StrictModel
from ...errors import ConfigError
from ...losses import GAN_LOSSES
from ...models.base import FAMILIES, ConditionalConfig, Family
from ..image.dataset import to_float
from .videogan import VideoDiscriminator, VideoGANConfig

IMAGE_FAMILIES = ("dcgan", "vae")


class ImageMotionConfig(ConditionalConfig):
    image_family: Literal["dcgan", "vae"] = Field("dcgan", description="the image model that draws each clip's frame")
    image: dict = Field(
        default_factory=dict,
        description="the image model's settings (its `model` section) over its default preset's, e.g. {width: 1.0}",
    )
    image_frames: int = Field(2, ge=1, description="frames of each training clip the image model learns from a step")
    motion_dim: int = Field(16, ge=1, description="size of the motion code")
    motion_hidden: int = Field(64, ge=4, description="the motion GRU's state size")
    max_step: float = Field(
        0.3, gt=0, le=2, description="the largest move a frame, in half frame sides (0.3 of 32 px: 4.8 px)"
    )
    turn: float = Field(
        0.05,
        gt=0,
        le=2,
        description="the largest change of velocity a frame, a share of max_step, besides a bounce (0.25 let paths "
        "speed up and slow down within a clip: a speed's spread in a clip of 0.46 px a frame on 1.47)",
    )
    motion_lr: float = Field(4e-4, gt=0, description="Adam lr of the motion generator and the video critic")
    critic_width: float = Field(0.25, gt=0, description="the video critic's width (of VGAN's channels)")
    centre: bool = Field(
        True,
        description="the image model learns each frame moved so that its centre of brightness is in the middle (the "
        "item alone, wherever it was) and a clip starts where a training clip starts; false: frames as they are",
    )
    whole_pixels: bool = Field(
        True, description="move by whole pixels (a fraction of a pixel blurs the picture; real clips' items are sharp)"
    )
    loss: Literal["ns", "hinge"] = Field("ns", description="the motion GAN's loss")

    @model_validator(mode="after")
    def _image_settings_are_valid(self):
        self.image_config()  # a wrong key or value is named now, not when the model is built
        return self

    def image_config(self) -> StrictModel:
        """The image model's config: its family's default preset, then `image`, then `conditional`."""
        fam = FAMILIES.get(self.image_family)
        merged = {**fam.presets[fam.default_preset]["model"], **self.image, "conditional": self.conditional}
        try:
            return fam.Config(**merged)
        except ValidationError as e:
            wrong = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'image'}: {err['msg']}" for err in e.errors())
            raise ValueError(f"model.image for {self.image_family}: {wrong}") from None


def centre_of_brightness(frames: torch.Tensor) -> torch.Tensor:
    """frames [B, C, H, W] in [-1, 1] -> [B, 2] (x, y) in grid_sample's [-1, 1] coordinates; the centre for an
    empty frame."""
    b, _, h, w = frames.shape
    mass = ((frames + 1) * 0.5).mean(1)  # [B, H, W]
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=frames.device)  # pixel centres (align_corners=False)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=frames.device)
    total = mass.sum((1, 2)).clamp_min(1e-6)  # [B]
    cx = (mass.sum(1) * xs).sum(1) / total
    cy = (mass.sum(2) * ys).sum(1) / total
    return torch.stack([cx, cy], 1)


def shift(frames: torch.Tensor, offsets: torch.Tensor, whole_pixels: bool = False) -> torch.Tensor:
    """frames [B, C, H, W] in [-1, 1], offsets [B, T, 2] (x, y) -> clips [B, C, T, H, W]: each frame moved by its
    offset (bilinear; black comes in at the edges). `whole_pixels` rounds the offsets to whole pixels on the way
    forward and keeps their gradient on the way back (a straight-through estimate): a move by a fraction of a
    pixel blurs the picture, which no camera does and a critic learns to see."""
    b, c, h, w = frames.shape
    t = offsets.shape[1]
    if whole_pixels:
        pixel = torch.tensor([2.0 / w, 2.0 / h], device=offsets.device)
        offsets = offsets + (torch.round(offsets / pixel) * pixel - offsets).detach()
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=frames.device)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=frames.device)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)  # [H, W, 2] (x, y)
    grid = base - offsets.reshape(-1, 1, 1, 2)  # [B * T, H, W, 2]: output pixel p shows input pixel p - d
    src = (frames + 1).unsqueeze(1).expand(-1, t, -1, -1, -1).reshape(-1, c, h, w)  # [B * T, C, H, W], black = 0
    moved = nn.functional.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (moved - 1).view(b, t, c, h, w).transpose(1, 2)


def centred(frames: torch.Tensor, whole_pixels: bool) -> torch.Tensor:
    """frames [B, C, H, W] moved so that each one's centre of brightness is in the middle."""
    return shift(frames, -centre_of_brightness(frames).unsqueeze(1), whole_pixels)[:, :, 0]


class MotionGenerator(nn.Module):
    """(motion code [B, dm], where the picture's content starts [B, 2]) -> offsets [B, T, 2], the first zero.

    A path with inertia: a first velocity from the code, then at each frame a GRU cell, seeing the code and where
    the content is now, keeps each axis' velocity, turns it round or changes it a little; a centre that would
    leave the range the training clips' centres keep to is reflected back into it (a bounce):

        v_1 = max_step * tanh(W h_0)
        v_t = max_step * tanh((v_t-1 * tanh(k_t) + max_step * turn * tanh(a_t)) / max_step),
        [k_t, a_t] = heads(GRU(code, where the content is, v_t-1))
        d_t = d_t-1 + v_t

    Free steps (d_t = d_t-1 + max_step * tanh(.)) learnt the data's mean speed but not a steady one: clips sped
    up and slowed down within themselves (measured: motion gap 0.54 against the one-stream GAN's 0.28); with
    inertia and no bounce the items ran out of the frame before the GRU learnt to turn them, where no gradient
    reaches them, and the critic won for good (measured). The keep head starts at tanh(3) = 0.995, so an
    untrained path already holds its speed."""

    def __init__(self, cfg: ImageMotionConfig, frames: int):
        super().__init__()
        self.frames, self.max_step, self.turn = frames, cfg.max_step, cfg.turn
        self.h0 = nn.Linear(cfg.motion_dim + 2, cfg.motion_hidden)
        self.first = nn.Linear(cfg.motion_hidden, 2)
        self.cell = nn.GRUCell(cfg.motion_dim + 4, cfg.motion_hidden)
        self.step = nn.Linear(cfg.motion_hidden, 4)  # per axis: keep k (x, y), change a (x, y)
        nn.init.zeros_(self.step.weight)
        with torch.no_grad():
            self.step.bias.copy_(torch.tensor([3.0, 3.0, 0.0, 0.0]))
        # the range (lo, hi) per axis that content centres keep to: the frame until `fit_data` sets the data's
        self.register_buffer("bounds", torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))

    def forward(self, motion: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.h0(torch.cat([motion, where], 1)))  # [B, hidden]
        velocity = self.max_step * torch.tanh(self.first(h))  # [B, 2]
        offset = torch.zeros_like(where)  # [B, 2]
        path = [offset]
        lo, hi = self.bounds  # [2] each
        for _ in range(self.frames - 1):
            # a centre that would leave the range the data's centres keep to is reflected back and turns round
            pos = where + offset + velocity
            out = (pos > hi) | (pos < lo)
            pos = torch.where(pos > hi, 2 * hi - pos, torch.where(pos < lo, 2 * lo - pos, pos))
            velocity = torch.where(out, -velocity, velocity)
            offset = pos - where
            path.append(offset)
            h = self.cell(torch.cat([motion, where + offset, velocity / self.max_step], 1), h)
            keep, change = self.step(h).chunk(2, 1)  # [B, 2] each
            # bounded by max_step through a tanh: unbounded, velocities grew until the items left the frame (where
            # no gradient reaches them) and the critic won for good (measured)
            kept = velocity * torch.tanh(keep) + self.max_step * self.turn * torch.tanh(change)
            velocity = self.max_step * torch.tanh(kept / self.max_step)
        return torch.stack(path, 1)  # [B, T, 2]


class Animator(nn.Module):
    """The exported generator: (z [N, D + dm], y [N] or None) -> clips [N, C, T, H, W] in [-1, 1]. With `starts`
    (centred pictures) the motion code's first value picks where the picture starts, among the training clips'
    starting places: its normal quantile indexes them, so a clip is a function of z."""

    def __init__(self, image: nn.Module, motion: MotionGenerator, cfg: ImageMotionConfig, starts: torch.Tensor):
        super().__init__()
        self.image, self.motion, self.dm, self.whole_pixels = image, motion, cfg.motion_dim, cfg.whole_pixels
        self.centre = cfg.centre
        self.register_buffer("starts", starts)  # [S, 2] the training clips' first centres, sorted by x

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        picture = self.image(z[:, : -self.dm], y)  # [N, C, H, W]
        code = z[:, -self.dm :]  # [N, dm]
        here = centre_of_brightness(picture)  # [N, 2]
        start = here
        if self.centre:
            q = 0.5 * (1 + torch.erf(code[:, 0] / math.sqrt(2)))  # [N] in (0, 1): uniform for a N(0, 1) code
            pick = (q * self.starts.shape[0]).long().clamp(0, self.starts.shape[0] - 1)
            start = self.starts[pick]
        path = self.motion(code, start)  # [N, T, 2], the first zero
        return shift(picture, path + (start - here).unsqueeze(1), self.whole_pixels)


@FAMILIES.register("image-motion")
class ImageMotion(Family):
    """An image model of the frames and a motion generator that moves its images (see the module's text)."""

    name = "image-motion"
    Config = ImageMotionConfig
    modality = "video"
    abilities = frozenset({"interpolate", "conditional"})
    tiny = ("model.image.width=0.25", "model.critic_width=0.125", "model.motion_hidden=16")
    ddp_units = ("motion", "critic")
    search_space = {
        "model.image_family": {"type": "categorical", "choices": list(IMAGE_FAMILIES)},
        "model.image_frames": {"type": "categorical", "choices": [1, 2, 4]},
        "model.motion_lr": {"type": "float", "low": 1e-4, "high": 1e-3, "log": True},
        "model.max_step": {"type": "categorical", "choices": [0.2, 0.3, 0.5]},
    }
    presets = {
        # measured in docs/video.md: the image DCGAN's default on two centred frames a clip (64 pictures a step, its
        # own batch size), its lr and betas; the motion GAN at the same lr. `model.image_family=vae` puts the image
        # VAE's default in its place (with its fitted mixture; set train.lr=1e-3 and betas 0.9 for it).
        "default": {"model": {"image_family": "dcgan"}, "train": {"lr": 4e-4, "betas": [0.5, 0.999], "batch_size": 32}},
    }

    def __init__(self, cfg: ImageMotionConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        c, t, h, w = self.shape
        if t < 2:
            raise ConfigError(f"image-motion moves an image over the frames; these clips have {t} frame")
        image_family = FAMILIES.get(cfg.image_family)
        self.image = image_family(cfg.image_config(), (c, h, w), n_classes)
        self.motion = MotionGenerator(cfg, t)
        self.register_buffer("starts", torch.zeros(4096, 2))  # where training clips start (`fit_data`)
        critic_cfg = VideoGANConfig(width=cfg.critic_width, kernel=3, dropout=0.0, d_norm="batch")
        self.critic = VideoDiscriminator(critic_cfg, self.shape)
        self.loss = GAN_LOSSES[cfg.loss]

    @property
    def latent_dim(self) -> int:
        return self.image.latent_dim + self.cfg.motion_dim

    def configure_optimizers(self, t):
        m = self.cfg.motion_lr
        return {
            **self.image.configure_optimizers(t),
            "motion": torch.optim.Adam(self.motion.parameters(), lr=m, betas=(0.5, 0.999)),
            "critic": torch.optim.Adam(self.critic.parameters(), lr=m, betas=(0.5, 0.999)),
        }

    def distribute(self, wrap) -> None:
        super().distribute(wrap)
        self.image.distribute(wrap)

    def undistribute(self) -> None:
        super().undistribute()
        self.image.undistribute()

    def train_step(self, x, y, opts):
        """x [B, C, T, H, W]: the image model's step on `image_frames` random frames of each clip, then the
        motion GAN's on the clips and their first frames."""
        b, c, t, h, w = x.shape
        k = self.cfg.image_frames
        pick = torch.randint(t, (b, k), device=x.device)  # [B, k] frame indices
        frames = x.transpose(1, 2)[torch.arange(b, device=x.device)[:, None], pick].flatten(0, 1)  # [B * k, C, H, W]
        y_frames = None if y is None or not self.conditional else y.repeat_interleave(k)
        losses = self.image.train_step(
            centred(frames, self.cfg.whole_pixels) if self.cfg.centre else frames, y_frames, opts
        )
        return {**losses, **self._motion_step(x, opts)}

    def _motion_step(self, x, opts) -> dict[str, torch.Tensor]:
        first = x[:, :, 0]  # [B, C, H, W] where the real clip starts
        motion = torch.randn(len(x), self.cfg.motion_dim, device=x.device)
        path = self.through("motion")(motion, centre_of_brightness(first))  # [B, T, 2]
        moved = shift(first, path, self.cfg.whole_pixels)  # [B, C, T, H, W]
        critic = self.through("critic")
        loss_d = self.loss.d(critic(x), critic(moved.detach()))
        opts["critic"].zero_grad(set_to_none=True)
        loss_d.backward()
        opts["critic"].step()
        loss_m = self.loss.g(self.critic(moved))  # the plain critic: its gradients are not wanted here
        opts["motion"].zero_grad(set_to_none=True)
        loss_m.backward(inputs=list(self.motion.parameters()))
        opts["motion"].step()
        return {"loss_motion_d": loss_d.detach(), "loss_motion": loss_m.detach()}

    def finish_training(self, train, labels, to_model) -> None:
        """The image model's own finish (the VAE fits its sampling mixture) on the training clips' frames."""
        frames = train.flatten(0, 1)  # stored clips [N, T, C, H, W] -> frames [N * T, C, H, W]
        frame_labels = None if labels is None else labels.repeat_interleave(train.shape[1])
        self.image.finish_training(frames, frame_labels, to_float)

    def prior(self, n, generator=None, labels=None):
        """The image model's prior for the content, N(0, I) for the motion code."""
        content = self.image.prior(n, generator, labels)
        motion = torch.randn(n, self.cfg.motion_dim, generator=generator).to(content.device)
        return torch.cat([content, motion], 1)

    def fit_data(self, train, to_model, class_names=None, labels=None) -> None:
        """Keep where (up to 4,096 of) the training clips' items start: sampled pictures start at one of them."""
        pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
        pick = pick[torch.arange(len(self.starts)) % len(pick)]  # a small data set's starts repeat
        first = to_model(train[pick][:, :1]).to(self.starts.device)[:, :, 0]  # [S, C, H, W]
        where = centre_of_brightness(first)
        self.starts.copy_(where[where[:, 0].argsort()])  # by x: nearby codes start nearby
        self.motion.bounds.copy_(torch.stack([where.amin(0), where.amax(0)]))

    def exportable(self):
        return Animator(self.image.exportable(), self.motion, self.cfg, self.starts)
