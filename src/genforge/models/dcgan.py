"""DCGAN: the article's generator and discriminator, generalised to any resolution.

The article (TensorFlow's DCGAN tutorial on 28x28 MNIST-like images):

    G: z[100] -> Dense 7*7*256 (no bias) -> BN -> LeakyReLU -> reshape [256, 7, 7]
       -> ConvT 128 5x5 s1 -> BN -> LeakyReLU          [128, 7, 7]
       -> ConvT  64 5x5 s2 -> BN -> LeakyReLU          [64, 14, 14]
       -> ConvT   1 5x5 s2 -> tanh                     [1, 28, 28]
    D: x -> Conv 64 5x5 s2 -> LeakyReLU -> Dropout 0.3 [64, 14, 14]
         -> Conv 128 5x5 s2 -> LeakyReLU -> Dropout 0.3 [128, 7, 7]
         -> Flatten -> Dense 1 (logit)

Other resolutions add or remove stride-2 stages (see `stages`): each stage
doubles the side and halves the channels, so 28 px is one point of a family
that also covers 8, 32, 64 and 128 px; `width` multiplies every channel count.
Convs use TF's "same" padding: k5 s2 with padding 2 (+ output_padding 1 for ConvT).

Conditional (model.conditional=true, K classes): G takes [z, one_hot(y)] (Mirza &
Osindero 2014); D is a projection discriminator (Miyato & Koyama 2018): with phi(x)
the flattened features before the last dense layer,
D(x, y) = dense(phi(x)) + <embed(y), phi(x)>.
"""

from __future__ import annotations

import copy
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..losses import GAN_LOSSES
from ..losses.augment import POLICIES, check_policies, diff_augment
from ..losses.gan import gradient_penalty, r1_penalty
from .abilities import Critic
from .base import FAMILIES, ConditionalConfig, Family, append_class, init_weights, stages


class DCGANConfig(ConditionalConfig):
    latent_dim: int = Field(100, ge=1, description="noise size")
    width: float = Field(1.0, gt=0, description="multiplier of every channel count (1 = the article)")
    max_channels: int = Field(512, ge=8, description="cap on channels per layer, before `width`")
    kernel: int = Field(5, ge=3, description="kernel size of every conv (odd)")
    leaky_slope: float = Field(0.2, ge=0, lt=1, description="LeakyReLU slope (Keras' default, in the article, is 0.3)")
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout after each discriminator conv")
    loss: Literal["ns", "hinge", "wgan"] = Field(
        "ns", description="ns: the article's non-saturating loss; hinge; wgan (use with gp_weight)"
    )
    spectral_norm: bool = Field(False, description="spectral normalisation of every discriminator layer (Miyato 2018)")
    d_norm: Literal["none", "batch"] = Field(
        "none",
        description="normalisation in D after every conv but the first: none (the article) or batch "
        "(the DCGAN paper; real and fake batches are normalised apart)",
    )
    r1_gamma: float = Field(0.0, ge=0, description="R1 penalty weight on real images (gamma / 2 * E||grad D||^2)")
    gp_weight: float = Field(0.0, ge=0, description="WGAN-GP gradient penalty weight (10 is usual)")
    d_lr_ratio: float = Field(1.0, gt=0, description="TTUR: discriminator lr = train.lr * this")
    n_critic: int = Field(1, ge=1, description="discriminator steps per generator step")
    ema: Optional[float] = Field(
        None, gt=0, lt=1, description="decay of an EMA copy of G used for sampling and export (e.g. 0.999)"
    )
    ema_warmup: bool = Field(
        False,
        description="ramp the EMA decay with the step count, min(ema, (1 + t) / (10 + t)), so that a short run "
        "is not averaged with its first minutes",
    )
    augment: str = Field(
        "",
        description="DiffAugment policies for D's inputs, comma-separated: color, translation, cutout, gain "
        "(audio: translation, cutout, gain)",
    )
    mode_seeking: float = Field(
        0.0, ge=0, description="weight of MSGAN's term against samples that ignore the noise (against collapse)"
    )
    mode_seeking_ref: Literal["noise", "data"] = Field(
        "noise",
        description="what the fakes' pairwise distance is measured against: noise, MSGAN's ratio to the noise "
        "distance (no bound: any difference pays, loudness and noise too); data, the real batch's pairwise "
        "distance (only a shortfall from the data's diversity is penalised)",
    )
    matching_aware: bool = Field(
        False,
        description="conditional models: D also learns that a real image under another example's label is fake "
        "(GAN-INT-CLS), so that each label's images are told apart from the start",
    )
    update: Literal["alternating", "simultaneous"] = Field(
        "alternating",
        description="alternating: D step, then G step on the updated D; "
        "simultaneous: both from one forward pass (the article's code)",
    )
    init: Literal["torch", "glorot", "dcgan"] = Field("dcgan", description="weight init; glorot is Keras' default")
    bn_eps: float = Field(1e-5, gt=0, description="BatchNorm epsilon (Keras: 1e-3)")
    bn_momentum: float = Field(
        0.1, gt=0, le=1, description="BatchNorm running-stat momentum, PyTorch convention (Keras 0.99 = 0.01 here)"
    )

    @field_validator("augment")
    @classmethod
    def _policies(cls, v: str) -> str:
        return check_policies(v, POLICIES, "images")

    @model_validator(mode="after")
    def _simultaneous_is_plain(self):
        if self.update == "simultaneous" and (
            self.loss != "ns"
            or self.r1_gamma
            or self.gp_weight
            or self.n_critic > 1
            or self.augment
            or self.mode_seeking
            or self.matching_aware
        ):
            raise ValueError(
                "update=simultaneous (the article's step) takes none of loss/r1_gamma/gp_weight/"
                "n_critic/augment/mode_seeking/matching_aware; use update=alternating"
            )
        return self

    @model_validator(mode="after")
    def _penalty_is_per_example(self):
        # the gradient penalty is a per-example norm; batch norm makes each logit depend on the whole batch
        # (Gulrajani et al. 2017 leave it out of the critic for this reason)
        if self.d_norm == "batch" and self.gp_weight:
            raise ValueError("gp_weight takes d_norm=none: batch norm mixes the examples whose gradients it bounds")
        return self


def refuse_augment(why: str):
    """An `augment` validator for a DCGAN config of another modality: DiffAugment's policies move 2-D images."""

    def check(cls, v: str) -> str:
        if v:
            raise ValueError(f"DiffAugment policies are for images; {why}")
        return v

    return field_validator("augment")(classmethod(check))


# The default preset (see DCGAN.presets for why each setting), which `wide` widens.
_DEFAULT = {
    "model": {"width": 0.5, "kernel": 3, "dropout": 0.0, "d_norm": "batch", "ema": 0.999, "ema_warmup": True},
    "train": {"lr": 4e-4, "betas": [0.5, 0.999], "batch_size": 64},
}


def pair_distance(t: torch.Tensor) -> torch.Tensor:
    """Mean |t1 - t2| between the first and second halves of a batch [B, ...]."""
    h = len(t) // 2
    return (t[:h] - t[h : 2 * h]).abs().mean()


def mode_seeking(fake: torch.Tensor, z: torch.Tensor, real: Optional[torch.Tensor] = None) -> torch.Tensor:
    """MSGAN's term (Mao et al. 2019), to be minimised: the generator is penalised when other noise gives the
    same image (of the same label, when conditional). Without `real`, the paper's 1 / (mean |G(z1) - G(z2)| /
    mean |z1 - z2|) over the two halves of the batch. With `real`, relu(1 - that distance / the real batch's):
    it stops at the data's diversity. The paper's form keeps paying for larger differences, and on sound, whose
    real clips are quiet and mostly silence, that pays a generator for filling every clip with loud noise."""
    if real is None:
        return 1.0 / (pair_distance(fake) / pair_distance(z) + 1e-5)
    return F.relu(1.0 - pair_distance(fake) / (pair_distance(real) + 1e-8))


def d_norm(cfg: DCGANConfig, channels: int, first: bool, dims: int) -> Optional[nn.Module]:
    """The discriminator's normalisation after a conv of `channels` outputs, None where it has none (every
    layer with d_norm=none; the first layer always, as in the DCGAN paper: it sees the images as they are)."""
    if cfg.d_norm == "none" or first:
        return None
    norm = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]
    return norm(channels, eps=cfg.bn_eps, momentum=cfg.bn_momentum)


def _channels(base: int, k: int, cfg: DCGANConfig) -> int:
    return max(1, int(round(min(base * 2**k, cfg.max_channels) * cfg.width)))


class Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig, shape: tuple[int, int, int], n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        c_out, res, _ = shape
        self.base, n = stages(res)
        k, p = cfg.kernel, cfg.kernel // 2
        # channels after the dense layer, the s1 conv and each stride-2 stage but the last;
        # article (n=2): [256, 128, 64], then 1 at the output
        m = max(n, 1)
        chans = [_channels(64, m - i, cfg) for i in range(m + 1)]
        self.c0 = chans[0]
        act = lambda: nn.LeakyReLU(cfg.leaky_slope)  # noqa: E731
        bn1 = lambda c: nn.BatchNorm1d(c, eps=cfg.bn_eps, momentum=cfg.bn_momentum)  # noqa: E731
        bn2 = lambda c: nn.BatchNorm2d(c, eps=cfg.bn_eps, momentum=cfg.bn_momentum)  # noqa: E731
        d0 = self.c0 * self.base * self.base
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim + n_classes, d0, bias=False), bn1(d0), act())
        layers: list[nn.Module] = [nn.ConvTranspose2d(chans[0], chans[1], k, 1, p, bias=False), bn2(chans[1]), act()]
        for i in range(1, m):
            layers += [
                nn.ConvTranspose2d(chans[i], chans[i + 1], k, 2, p, output_padding=1, bias=False),
                bn2(chans[i + 1]),
                act(),
            ]
        # last layer: stride 2 up to the full resolution (stride 1 when the data is base-sized)
        s, op = (2, 1) if n >= 1 else (1, 0)
        layers += [nn.ConvTranspose2d(chans[m], c_out, k, s, p, output_padding=op, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.fc(append_class(z, y, self.n_classes))  # [B, latent + K] -> [B, c0 * base * base]
        h = h.view(-1, self.c0, self.base, self.base)  # [B, c0, base, base]
        return self.net(h)  # [B, C, res, res] in [-1, 1]


class ProjectionCritic(nn.Module):
    """A discriminator whose `net` ends in Flatten and one dense logit; when conditional, the projection term
    (Miyato & Koyama 2018): D(x, y) = dense(phi(x)) + <embed(y), phi(x)>, phi(x) the flattened features."""

    def finish(self, layers: list[nn.Module], n_features: int, n_classes: int) -> None:
        """`net` = layers, Flatten, a dense logit; one feature-sized embedding per class when conditional."""
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(n_features, 1))
        self.embed = nn.Embedding(n_classes, n_features) if n_classes else None

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.embed is None:
            return self.net(x).squeeze(1)  # [B] logits
        h = self.net[:-1](x)  # [B, F] features phi(x)
        return self.net[-1](h).squeeze(1) + (self.embed(y) * h).sum(1)  # [B] logits


class Discriminator(ProjectionCritic):
    def __init__(self, cfg: DCGANConfig, shape: tuple[int, int, int], n_classes: int = 0):
        super().__init__()
        c_in, res, _ = shape
        _, n = stages(res)
        k, p = cfg.kernel, cfg.kernel // 2
        layers: list[nn.Module] = []
        c, side = c_in, res
        for i in range(max(n, 1)):
            c_next = _channels(64, i, cfg)
            norm = d_norm(cfg, c_next, first=i == 0, dims=2)
            layers += [nn.Conv2d(c, c_next, k, 2, p, bias=norm is None)]
            layers += [norm] if norm is not None else []
            layers += [nn.LeakyReLU(cfg.leaky_slope), nn.Dropout(cfg.dropout)]
            c, side = c_next, (side + 1) // 2  # "same" padding: ceil(side / 2)
        self.finish(layers, c * side * side, n_classes)


@FAMILIES.register("dcgan")
class DCGAN(Critic, Family):
    name = "dcgan"
    Config = DCGANConfig
    abilities = frozenset({"interpolate", "conditional", "critic"})
    tiny = ("model.width=0.25",)
    search_space = {
        "train.lr": {"type": "float", "low": 5e-5, "high": 1e-3, "log": True},
        "train.batch_size": {"type": "categorical", "choices": [32, 64, 128]},
        "train.betas": {"type": "categorical", "choices": [[0.5, 0.999], [0.0, 0.9], [0.9, 0.999]]},
        "model.width": {"type": "categorical", "choices": [0.25, 0.5, 1.0]},
        "model.kernel": {"type": "categorical", "choices": [3, 5]},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.4},
        "model.loss": {"type": "categorical", "choices": ["ns", "hinge"]},
        "model.spectral_norm": {"type": "categorical", "choices": [False, True]},
        "model.d_norm": {"type": "categorical", "choices": ["none", "batch"]},
        "model.r1_gamma": {"type": "categorical", "choices": [0.0, 0.1, 1.0]},
        "model.d_lr_ratio": {"type": "categorical", "choices": [1.0, 2.0, 4.0]},
        "model.ema": {"type": "categorical", "choices": [None, 0.999]},
        "model.augment": {
            "type": "categorical",
            "choices": ["", "translation", "translation,cutout", "color,translation,cutout"],
        },
    }
    presets = {
        # The article's exact model and optimiser (TF DCGAN tutorial): Keras defaults
        # (LeakyReLU 0.3, Glorot init, BN eps 1e-3 / momentum 0.99), Adam 1e-4, batch 256,
        # G and D updated simultaneously from one forward pass.
        "article": {
            "model": {
                "leaky_slope": 0.3,
                "init": "glorot",
                "bn_eps": 1e-3,
                "bn_momentum": 0.01,
                "update": "simultaneous",
            },
            "train": {"lr": 1e-4, "betas": [0.9, 0.999], "batch_size": 256},
        },
        # Radford et al. 2016: Adam 2e-4, beta1 0.5, N(0, 0.02) init, batch 128.
        "dcgan-paper": {"model": {}, "train": {"lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 128}},
        # The default, for quality per CPU-minute on a slow, shared machine: the article's layout at half width
        # with 3x3 kernels (about 3.4x the article's images/s) and no dropout in D (with dropout D stays near
        # chance and G learns slowly), batch 64 for more updates per second, the DCGAN paper's betas at twice its
        # lr, an EMA generator whose decay ramps up with the steps (an EMA of 0.999 from the start would
        # still average in the first poor minutes), and batch norm in D (the DCGAN paper's D: D learns more per
        # step for 7% fewer steps). Measured in docs/optimization.md: 5 CPU-minutes on one busy thread, two
        # seeds, FID 2.9 against 4.2 without the batch norm and 5.2 for `lean`; coverage 0.31 against 0.22.
        "default": _DEFAULT,
        # For budgets of 30 minutes and more (chosen by --minutes): the default at full width. Slower per step, it
        # ties the default at 20 and 30 CPU-minutes and is 11% ahead at 45 (docs/optimization.md, the
        # time-to-quality curves).
        "wide": {"model": {**_DEFAULT["model"], "width": 1.0}, "train": _DEFAULT["train"]},
        # The previous default: the same network without the EMA, at the DCGAN paper's lr.
        "lean": {
            "model": {"width": 0.5, "kernel": 3, "dropout": 0.0},
            "train": {"lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 64},
        },
    }

    budget_presets = ((30.0, "wide"),)
    ddp_units = ("G", "D")  # each its own DistributedDataParallel: the two are stepped apart
    # the networks; a GAN family of another modality (WaveGAN) keeps the training step and swaps these
    generator_class: type[nn.Module] = Generator
    discriminator_class: type[nn.Module] = Discriminator

    def __init__(self, cfg: DCGANConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        self.G = self.generator_class(cfg, self.shape, self.cond_classes)
        self.D = self.discriminator_class(cfg, self.shape, self.cond_classes)
        init_weights(self, cfg.init)
        if cfg.spectral_norm:
            for m in self.D.modules():
                if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Embedding)):
                    spectral_norm(m)
        if cfg.ema is not None:
            self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
            if cfg.ema_warmup:  # EMA updates so far; a buffer so that a resumed run keeps the ramp
                self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        if cfg.n_critic > 1:  # counts D steps; a buffer so that a resumed run keeps the rhythm
            self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))
        self.loss = GAN_LOSSES[cfg.loss]

    def configure_optimizers(self, t):
        betas = tuple(t.betas)
        return {
            "g": torch.optim.Adam(self.G.parameters(), lr=t.lr, betas=betas),
            "d": torch.optim.Adam(self.D.parameters(), lr=t.lr * self.cfg.d_lr_ratio, betas=betas),
        }

    def train_step(self, x, y: Optional[torch.Tensor], opts):
        c = self.cfg
        z = torch.randn(x.shape[0], self.latent_dim, device=x.device)
        y = y if self.conditional else None  # fakes take the real batch's labels: the data's class mix
        # mode seeking: the second half of the fakes repeats the first half's labels with other noise
        y_fake = y if y is None or not c.mode_seeking else torch.cat([y[: len(y) // 2], y[: len(y) - len(y) // 2]])
        # With n_critic > 1 the generator rests on most steps: its forward then builds no graph (a graph left
        # without a backward would also stall DistributedDataParallel's gradient averaging).
        g_turn = c.update == "simultaneous" or c.n_critic == 1 or bool((self.d_steps + 1) % c.n_critic == 0)
        with torch.set_grad_enabled(g_turn):
            fake = self.through("G")(z, y_fake)
        D = lambda t, labels=y: self.through("D")(t, labels)  # noqa: E731
        if c.update == "simultaneous":
            # The article: both losses from the same D outputs, gradients applied together. backward(inputs=)
            # gives each loss's gradient to its own network only (into .grad, where DDP averages them).
            real_logits, fake_logits = D(x), D(fake, y_fake)
            loss_d = self.loss.d(real_logits, fake_logits)
            loss_g = self.loss.g(fake_logits)
            opts["g"].zero_grad(set_to_none=True)
            opts["d"].zero_grad(set_to_none=True)
            loss_g.backward(inputs=list(self.G.parameters()), retain_graph=True)
            loss_d.backward(inputs=list(self.D.parameters()))
            opts["g"].step()
            opts["d"].step()
        else:
            aug = lambda t: diff_augment(t, c.augment)  # noqa: E731  (same policy for real and fake)
            real_in = aug(x)
            fake_logits = D(aug(fake.detach()), y_fake)
            fake_side = fake_logits
            if c.matching_aware and y is not None:
                # Reed et al. 2016: real images with another example's label join the fakes (half of that side)
                wrong = y.roll(1, 0)
                keep = wrong != y
                fake_side = torch.cat([fake_logits, D(real_in[keep], wrong[keep])])
            loss_d = self.loss.d(D(real_in), fake_side)
            if c.r1_gamma:
                loss_d = loss_d + 0.5 * c.r1_gamma * r1_penalty(D, real_in)
            if c.gp_weight:
                loss_d = loss_d + c.gp_weight * gradient_penalty(lambda t: D(t, y_fake), real_in, aug(fake.detach()))
            opts["d"].zero_grad(set_to_none=True)
            loss_d.backward()
            opts["d"].step()
            if c.n_critic > 1:
                self.d_steps += 1
            if g_turn:
                # D's own gradients are not needed here: the plain D, so that they are not averaged for nothing
                loss_g = self.loss.g(self.D(aug(fake), y_fake))
                if c.mode_seeking:  # conditional: the two halves of the batch share their labels
                    real_ref = x if c.mode_seeking_ref == "data" else None
                    loss_g = loss_g + c.mode_seeking * mode_seeking(fake, z, real_ref)
                opts["g"].zero_grad(set_to_none=True)
                loss_g.backward()
                opts["g"].step()
            else:  # G rests this step: report its loss on the logits D just saw
                loss_g = self.loss.g(fake_logits.detach())
        if self.cfg.ema is not None:
            self._update_ema()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.cfg.ema
        if self.cfg.ema_warmup:  # TensorFlow's ExponentialMovingAverage(num_updates=t) ramp
            t = int(self.ema_updates)
            decay = min(decay, (1 + t) / (10 + t))
            self.ema_updates += 1
        ema, live = list(self.G_ema.parameters()), list(self.G.parameters())
        torch._foreach_lerp_(ema, live, 1.0 - decay)
        for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
            be.copy_(b)  # BN running statistics follow the live generator

    def critic(self, x, y=None):
        return self.D(x, y if self.conditional else None).flatten()

    def exportable(self):
        """The EMA generator when there is one (it samples better), else G."""
        return self.G_ema if self.cfg.ema is not None else self.G
