"""Convolutional VAE: the article's encoder and decoder, generalised to any resolution.

The article (Keras' VAE example on 28x28 images, latent 2):

    encoder: x [1, 28, 28] -> Conv 32 3x3 s2 ReLU [32, 14, 14] -> Conv 64 3x3 s2 ReLU [64, 7, 7]
             -> Flatten -> Dense 16 ReLU -> z_mean [D], z_log_var [D]
    decoder: z [D] -> Dense 7*7*64 ReLU -> [64, 7, 7] -> ConvT 64 3x3 s2 ReLU [64, 14, 14]
             -> ConvT 32 3x3 s2 ReLU [32, 28, 28] -> ConvT 1 3x3 s1 -> sigmoid [1, 28, 28]

The article prints a third stride-2 layer at the end of the decoder, which would
emit 56x56 images; here the output layer has stride 1 so the output always has
the input's resolution (as in the Keras example the article follows). Other
resolutions add or remove stride-2 stages (see `stages`); `width` multiplies
channels. The decoder emits logits; images are sigmoid(logits) mapped to [-1, 1].

`decoder_blocks` > 0 adds residual blocks (conv 3x3 - ReLU - conv 3x3, plus the
input) after each upsampling layer: a deeper decoder against blurry samples. Each
block's last conv starts at zero, so a new block starts as the identity.

Conditional (model.conditional=true, K classes) is a CVAE (Sohn et al. 2015):
the encoder sees one_hot(y) beside its flattened conv features, the decoder
takes [z, one_hot(y)], and the prior stays N(0, I).
"""

from __future__ import annotations

from typing import Literal, Optional

import torch
from pydantic import Field
from torch import nn

from ..losses import elbo
from ..losses.vae import decoder_mean, warmed_beta
from .abilities import Likelihood, Reconstructs
from .base import FAMILIES, ConditionalConfig, Family, append_class, init_weights, stages
from .latent_prior import FittedPrior, PriorOptions, mixture_for
from .vae_figures import vae_figures


class VAEConfig(ConditionalConfig, PriorOptions):
    latent_dim: int = Field(16, ge=1, description="latent size; 2 gives the classic 2-D manifold")
    hidden: int = Field(256, ge=1, description="width of the dense layer before z_mean / z_log_var (article: 16)")
    width: float = Field(1.0, gt=0, description="multiplier of every channel count")
    max_channels: int = Field(256, ge=8, description="cap on channels per layer, before `width`")
    reconstruction: Literal["bernoulli", "gaussian", "gaussian_learned"] = Field(
        "bernoulli", description="decoder likelihood p(x|z); gaussian_learned adds a per-pixel learned sigma"
    )
    sigma: float = Field(0.1, gt=0, description="std of the gaussian decoder, in [0,1] pixel units")
    beta: float = Field(1.0, ge=0, description="weight of the KL term (1 = the ELBO)")
    free_bits: float = Field(
        0.0, ge=0, description="nats per latent dimension below which KL is not penalised (Kingma 2016)"
    )
    kl_warmup: int = Field(0, ge=0, description="steps over which the KL weight ramps linearly from 0 to beta")
    decoder_blocks: int = Field(
        0, ge=0, description="residual blocks after each decoder upsampling layer (0 = the article's plain decoder)"
    )
    init: Literal["torch", "glorot", "dcgan"] = Field("torch", description="weight init; glorot is Keras' default")


def _channels(k: int, cfg: VAEConfig) -> int:
    return max(1, int(round(min(32 * 2**k, cfg.max_channels) * cfg.width)))


class GaussianEncoder(nn.Module):
    """What follows an encoder's convolutions (`conv`, ending in Flatten): one_hot(y) appended when conditional,
    a dense layer, then z_mean and z_log_var."""

    def head(self, cfg: VAEConfig, n_features: int, n_classes: int) -> None:
        self.n_classes = n_classes
        self.fc = nn.Sequential(nn.Linear(n_features + n_classes, cfg.hidden), nn.ReLU())
        self.mu = nn.Linear(cfg.hidden, cfg.latent_dim)
        self.logvar = nn.Linear(cfg.hidden, cfg.latent_dim)

    def forward(self, x, y=None):
        h = self.fc(append_class(self.conv(x), y, self.n_classes))  # [B, F (+ K)] -> [B, hidden]
        return self.mu(h), self.logvar(h)  # [B, D] each


class Encoder(GaussianEncoder):
    def __init__(self, cfg: VAEConfig, shape, n_classes: int = 0):
        super().__init__()
        c, res, _ = shape
        _, n = stages(res)
        layers: list[nn.Module] = []
        side = res
        for i in range(max(n, 1)):
            layers += [nn.Conv2d(c, _channels(i, cfg), 3, 2, 1), nn.ReLU()]
            c, side = _channels(i, cfg), (side + 1) // 2
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.head(cfg, c * side * side, n_classes)


class ResBlock(nn.Module):
    """h + conv(relu(conv(h))), 3x3 convs (3x3x3 with conv=nn.Conv3d) at constant channels; starts as the
    identity."""

    def __init__(self, c: int, conv: type[nn.Module] = nn.Conv2d):
        super().__init__()
        self.body = nn.Sequential(conv(c, c, 3, 1, 1), nn.ReLU(), conv(c, c, 3, 1, 1))

    def forward(self, h):
        return h + self.body(h)  # [B, c, H, W] (or [B, c, T, H, W])


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig, shape, n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        c_out, res, _ = shape
        self.base, n = stages(res)
        m = max(n, 1)
        self.c0 = _channels(m - 1, cfg)  # article: 64
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim + n_classes, self.c0 * self.base**2), nn.ReLU())
        layers: list[nn.Module] = []
        c = self.c0
        for i in reversed(range(m)):  # article: ConvT 64 s2, ConvT 32 s2
            s, op = (2, 1) if n >= 1 else (1, 0)
            layers += [nn.ConvTranspose2d(c, _channels(i, cfg), 3, s, 1, output_padding=op), nn.ReLU()]
            c = _channels(i, cfg)
            layers += [ResBlock(c) for _ in range(cfg.decoder_blocks)]
        # stride 1: output side == input side; a learned-variance decoder emits mean and log sigma maps
        out_maps = 2 * c_out if cfg.reconstruction == "gaussian_learned" else c_out
        layers.append(nn.ConvTranspose2d(c, out_maps, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z, y=None):
        h = self.fc(append_class(z, y, self.n_classes))  # [B, D (+ K)] -> [B, c0 * base * base]
        h = h.view(-1, self.c0, self.base, self.base)  # [B, c0, base, base]
        return self.net(h)  # [B, C, res, res] logits


def logits_to_image(logits: torch.Tensor, channels: int) -> torch.Tensor:
    """Decoder output -> image in [-1, 1]: the mean of p(x|z) for every likelihood."""
    return decoder_mean(logits, channels) * 2.0 - 1.0


class _Image(nn.Module):
    """The exportable decoder: latents [N, D] (labels [N] if conditional) -> images [N, C, H, W] in [-1, 1]."""

    def __init__(self, decoder: Decoder, channels: int):
        super().__init__()
        self.decoder, self.channels = decoder, channels

    def forward(self, z, y=None):
        return logits_to_image(self.decoder(z, y), self.channels)


@FAMILIES.register("vae")
class VAE(Reconstructs, Likelihood, FittedPrior, Family):
    name = "vae"
    Config = VAEConfig
    abilities = frozenset({"reconstruct", "likelihood", "traverse", "interpolate", "conditional"})
    # 16 latents and a small mixture: the default's 128 latents outnumber an 8x8 digit's pixels, and fitting its
    # 40-component mixture in 128 dimensions took most of a tiny run's time
    tiny = ("model.width=0.5", "model.hidden=32", "model.latent_dim=16", "model.prior_components=8")
    optimizer = "vae"
    search_space = {
        "train.lr": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
        "train.batch_size": {"type": "categorical", "choices": [32, 64, 128]},
        "model.latent_dim": {"type": "categorical", "choices": [8, 16, 32]},
        "model.hidden": {"type": "categorical", "choices": [64, 256, 512]},
        "model.width": {"type": "categorical", "choices": [0.5, 1.0]},
        "model.beta": {"type": "float", "low": 0.25, "high": 2.0},
        "model.free_bits": {"type": "categorical", "choices": [0.0, 0.1, 0.25]},
        "model.kl_warmup": {"type": "categorical", "choices": [0, 500, 2000]},
        "model.decoder_blocks": {"type": "categorical", "choices": [0, 1, 2]},
        "model.reconstruction": {"type": "categorical", "choices": ["bernoulli", "gaussian_learned"]},
    }
    presets = {
        # The article's exact model (Keras VAE example): latent 2, Dense 16, Glorot init,
        # Adam with Keras' default 1e-3, batch 128.
        "article": {
            "model": {"latent_dim": 2, "hidden": 16, "init": "glorot"},
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 128},
        },
        # For sharp samples in minutes of CPU (docs/optimization.md, "The VAE"): 128 latents, a gaussian decoder
        # with sigma 0.05 (squared error weighed 1 / (2 sigma^2) = 200 against the KL: sharp reconstructions, but
        # codes that no longer fill N(0, I)), so samples are drawn from a 40-component mixture fitted to the
        # training codes. At `lean`'s 5-minute step count: FID 1.4 against 5.2, recall 0.42 against 0.31 (64
        # latents: 1.6 and 0.35).
        "default": {
            "model": {
                "latent_dim": 128,
                "reconstruction": "gaussian",
                "sigma": 0.05,
                "prior": "gmm",
                "prior_components": 40,
            },
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 128},
        },
        # The previous default: 16 latents, a 256-wide dense layer, the bernoulli decoder and the N(0, I) prior.
        "lean": {"model": {}, "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 128}},
    }

    # the networks; a VAE family of another modality (the video VAE) keeps the losses and swaps these
    encoder_class: type[nn.Module] = Encoder
    decoder_class: type[nn.Module] = Decoder

    def __init__(self, cfg: VAEConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        self.encoder = self.encoder_class(cfg, self.shape, self.cond_classes)
        self.decoder = self.decoder_class(cfg, self.shape, self.cond_classes)
        init_weights(self, cfg.init)
        for m in self.decoder.modules():
            if isinstance(m, ResBlock):  # identity at the start, whatever the init scheme
                nn.init.zeros_(m.body[-1].weight)
                nn.init.zeros_(m.body[-1].bias)
        if cfg.kl_warmup:  # a buffer, so a resumed run continues the ramp where it was
            self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.gmm = mixture_for(cfg, cfg.latent_dim, self.cond_classes)

    def encode(self, x, y=None):
        """x in the model form (images [B, C, H, W] in [-1, 1]; labels y [B] if conditional) -> (mu, logvar),
        each [B, D]."""
        self._need_labels(y)
        return self.encoder(x, y)

    def losses(self, x, y=None, beta: Optional[float] = None, free_bits: float = 0.0):
        """(loss, recon, kl) of a batch in [-1, 1], with one reparameterised sample.
        Defaults give the plain negative ELBO (beta = 1 of the config, no free bits)."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterisation trick
        logits = self.decoder(z, y)
        x01 = (x + 1.0) * 0.5
        c = self.cfg
        return elbo(
            x01,
            logits.float(),
            mu.float(),
            logvar.float(),
            c.reconstruction,
            c.sigma,
            c.beta if beta is None else beta,
            free_bits,
        )

    def held_out_loss(self, x, y=None):
        """The negative ELBO (one posterior sample, beta 1, no free bits), batch mean."""
        return self.losses(x, y)[0]

    def train_step(self, x, y: Optional[torch.Tensor], opts):
        c = self.cfg
        beta = warmed_beta(c.beta, c.kl_warmup, self.steps_done if c.kl_warmup else None)
        loss, recon, kl = self.through()("losses", x, y if self.conditional else None, beta, c.free_bits)
        opts["vae"].zero_grad(set_to_none=True)
        loss.backward()
        opts["vae"].step()
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    def reconstruct(self, x, y=None):
        """Images [-1, 1] (labels [B] if conditional) -> reconstructions from the posterior mean."""
        return self.decode(self.encode(x, y)[0], y)

    def exportable(self):
        return _Image(self.decoder, self.shape[0])

    def extra_figures(self, test, labels, k=32, seed=0):
        """ELBO, IWAE NLL bound, bits/dim, reconstruction error, active units on uint8 test images."""
        figs = vae_figures(self, test, labels, k=k, seed=seed)
        figs.pop("n_test")
        return figs
