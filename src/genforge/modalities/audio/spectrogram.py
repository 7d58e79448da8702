"""Spectrogram families: an image family (DCGAN, the conv VAE) trained on spectrograms of waveforms.

SpecGAN (Donahue et al. 2019) and a spectrogram VAE: a clip [1, T] becomes its log-magnitude STFT
(n_fft 256, periodic Hann window, hop ceil(T / 128)) cropped to 128 frequency bins x 128 frames,
normalised per frequency bin with the training set's mean and std, scaled by 1/3 and clipped
to [-1, 1] (the paper's recipe). The wrapped image family sees these [1, 128, 128] pictures;
its outputs are mapped back and inverted with Griffin-Lim (the Nyquist bin set to zero).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from ...config import StrictModel
from ...errors import ConfigError
from ...models.abilities import Reconstructs
from ...models.base import FAMILIES, Family
from ...models.dcgan import DCGAN, DCGANConfig
from ...models.vae import VAE, VAEConfig
from .dsp import EPS, griffin_lim, square_hop, square_magnitude

CLIP_STD = 3.0  # normalised values are (x - mean) / std / 3, clipped to [-1, 1]


class SpectrogramOptions(StrictModel):
    """The fields every spectrogram family adds to its image family's config."""

    n_fft: int = Field(256, ge=16, le=2048, description="STFT size; the spectrogram is n_fft/2 bins x n_fft/2 frames")
    griffin_lim_iters: int = Field(
        32, ge=1, le=1000, description="Griffin-Lim iterations turning a spectrogram to sound"
    )
    channels_last: bool = Field(
        True,
        description="hold the image family's weights and pictures channels-last: oneDNN's convolutions on the "
        "S x S pictures make a training step about 1.2x as fast on a CPU (python -m genforge.modalities.audio.bench "
        "--family specgan)",
    )


class SpecGANConfig(DCGANConfig, SpectrogramOptions):
    pass


class SpecVAEConfig(VAEConfig, SpectrogramOptions):
    pass


class Spectrogram(nn.Module):
    """Waveforms [B, 1, T] <-> normalised log-magnitude spectrograms [B, 1, S, S], S = n_fft / 2."""

    def __init__(self, n_fft: int, length: int):
        super().__init__()
        self.n_fft, self.length = n_fft, length
        self.side = n_fft // 2
        self.hop = square_hop(length, self.side)  # S * hop >= T samples: S + 1 centred frames, the last dropped
        if self.hop > n_fft // 2:  # frames must overlap by half at least, or Griffin-Lim cannot rebuild the signal
            fit = next(n for n in (2**k for k in range(4, 16)) if square_hop(length, n // 2) <= n // 2)
            raise ConfigError(
                f"model.n_fft={n_fft} is too small for clips of {length} samples: {n_fft // 2} frames would be "
                f"{self.hop} samples apart, more than half a window; use model.n_fft={fit} or more"
            )
        self.register_buffer("mean", torch.zeros(self.side, 1))  # per-bin statistics of log |STFT|
        self.register_buffer("std", torch.ones(self.side, 1))

    def log_mag(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 1, T] -> log |STFT| [B, 1, S, S]."""
        return torch.log(square_magnitude(x, self.side, self.hop) + EPS)

    @torch.no_grad()
    def fit(self, train: torch.Tensor, to_model, chunk: int = 256) -> None:
        """Per-bin mean and std of log |STFT| over the training clips (stored form)."""
        s1 = s2 = 0.0
        n = 0
        for part in train.split(chunk):
            lm = self.log_mag(to_model(part).float())[:, 0].transpose(0, 1).flatten(1)  # [S, B * S]
            s1, s2, n = s1 + lm.sum(1, keepdim=True), s2 + lm.pow(2).sum(1, keepdim=True), n + lm.shape[1]
        self.mean.copy_(s1 / n)
        self.std.copy_((s2 / n - (s1 / n) ** 2).clamp_min(1e-6).sqrt())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.log_mag(x) - self.mean) / (CLIP_STD * self.std)).clamp(-1, 1)

    def invert(self, s: torch.Tensor, iters: int) -> torch.Tensor:
        """[B, 1, S, S] in [-1, 1] -> waveforms [B, 1, T] by `iters` Griffin-Lim iterations."""
        mag = (torch.exp(s.float()[:, 0] * CLIP_STD * self.std + self.mean) - EPS).clamp_min(0)  # [B, S, S]
        mag = nn.functional.pad(mag, (0, 1, 0, 1))  # Nyquist bin (zero) and the dropped last frame
        mag[..., -1] = mag[..., -2]
        return griffin_lim(mag, self.n_fft, self.hop, self.hop * self.side, iters)[..., : self.length]


class _Waveform(nn.Module):
    """The exportable generator: (z [N, D], y [N] or None) -> spectrogram -> waveforms [N, 1, T]."""

    def __init__(self, net: nn.Module, spec: Spectrogram, iters: int):
        super().__init__()
        self.net, self.spec, self.iters = net, spec, iters

    def forward(self, z, y=None):
        return self.spec.invert(self.net(z, y), self.iters)


class SpectrogramFamily(Family):
    """An image family (`image_family`) wrapped to train on spectrograms and answer in waveforms."""

    modality = "audio"
    image_family: type[Family]

    def __init__(self, cfg, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        self.spec = Spectrogram(cfg.n_fft, shape[-1])
        self.inner = self.image_family(cfg, (1, self.spec.side, self.spec.side), n_classes)
        self.layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.inner.to(memory_format=self.layout)  # a 4-D weight's strides; the values are the same

    def fit_data(self, train, to_model, class_names=None, labels=None) -> None:
        self.spec.fit(train, to_model)

    def finish_training(self, train, labels, to_model) -> None:
        # the image family's fitted prior (specvae, prior=gmm) reads spectrograms
        self.inner.finish_training(train, labels, lambda x: self.spec(to_model(x).to(self.spec.mean.device)))

    def prior(self, n, generator=None, labels=None):
        return self.inner.prior(n, generator, labels)  # the image family's prior (specvae's fitted mixture)

    def configure_optimizers(self, t):
        return self.inner.configure_optimizers(t)

    def train_step(self, x, y, opts):
        return self.inner.train_step(self.spec(x).contiguous(memory_format=self.layout), y, opts)

    def distribute(self, wrap) -> None:
        self.inner.distribute(wrap)  # the spectrogram transform has no trained parameters

    def undistribute(self) -> None:
        self.inner.undistribute()  # the wrappers are the inner family's

    def exportable(self) -> nn.Module:
        # griffin_lim_iters is read here, not at construction: it is also a sampling option (--set)
        return _Waveform(self.inner.exportable(), self.spec, self.cfg.griffin_lim_iters)

    def export_example(self):
        args, names, _, dims = super().export_example()
        return args, names, ["audio"], dims

    def encode(self, x, y=None):
        """Waveforms [B, 1, T] -> the image family's posterior (mu, logvar) of their spectrograms."""
        return self.inner.encode(self.spec(x), y)


@FAMILIES.register("specgan")
class SpecGAN(SpectrogramFamily):
    name = "specgan"
    Config = SpecGANConfig
    image_family = DCGAN
    abilities = frozenset({"interpolate", "conditional"})
    tiny = ("model.width=0.125", "model.n_fft=128", "model.griffin_lim_iters=4")
    search_space = {k: v for k, v in DCGAN.search_space.items() if k != "model.augment"}
    presets = {
        # The paper: DCGAN at 128x128 (5x5 kernels, d = 64), WGAN-GP with 5 critic steps, Adam 1e-4 (0.5, 0.9).
        "paper": {
            "model": {"kernel": 5, "dropout": 0.0, "loss": "wgan", "gp_weight": 10.0, "n_critic": 5, "init": "torch"},
            "train": {"lr": 1e-4, "betas": [0.5, 0.9], "batch_size": 64},
        },
        # For quality per CPU-minute (docs/audio.md): a quarter of the width, 3x3 kernels, hinge + spectral
        # norm, an EMA generator, Adam 2e-4 (0.5, 0.9), batch 8: at 10 CPU-minutes SpecGAN is short of updates,
        # not of examples per update (IS 5.8 and 5.1 on two seeds, against 5.3 and 4.6 at batch 16, 4.3 at 32).
        "default": {
            "model": {"width": 0.25, "kernel": 3, "dropout": 0.0, "loss": "hinge", "spectral_norm": True, "ema": 0.99},
            "train": {"lr": 2e-4, "betas": [0.5, 0.9], "batch_size": 8},
        },
        # Pitch-conditioned notes, GANSynth's setting (Engel et al. 2019) on log-magnitude spectrograms: the default
        # with the class (`instrument-notes`: the pitch) given to both networks.
        "notes": {
            "model": {
                "width": 0.25,
                "kernel": 3,
                "dropout": 0.0,
                "loss": "hinge",
                "spectral_norm": True,
                "ema": 0.99,
                "conditional": True,
            },
            "train": {"lr": 2e-4, "betas": [0.5, 0.9], "batch_size": 32},
        },
    }


@FAMILIES.register("specvae")
class SpecVAE(Reconstructs, SpectrogramFamily):
    name = "specvae"
    Config = SpecVAEConfig
    image_family = VAE
    abilities = frozenset({"reconstruct", "traverse", "interpolate", "conditional"})
    tiny = ("model.width=0.25", "model.hidden=32", "model.n_fft=128", "model.griffin_lim_iters=4")
    search_space = {k: v for k, v in VAE.search_space.items() if k != "model.reconstruction"}
    presets = {
        # The article's conv VAE layout on spectrograms, with a gaussian decoder (spectrograms are not binary).
        "article": {
            "model": {"latent_dim": 2, "hidden": 16, "init": "glorot", "reconstruction": "gaussian"},
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 128},
        },
        # For quality per CPU-minute (docs/audio.md): a quarter width, 32 latents, a gaussian decoder (sigma 0.1 in
        # [0, 1] units), KL warm-up, batch 32 (at 5 CPU-minutes: FD 17.9 against 37.8 for half width, learned sigma
        # and batch 64 at 10).
        "default": {
            "model": {"latent_dim": 32, "reconstruction": "gaussian", "kl_warmup": 500, "width": 0.25},
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 32},
        },
    }

    def reconstruct(self, x, y=None):
        return self.spec.invert(self.inner.reconstruct(self.spec(x), y), self.cfg.griffin_lim_iters)
