"""DDSP notes: a VAE of timbre whose decoder plays a harmonic-plus-noise synthesiser (Engel et al. 2020).

A spectrogram GAN must draw every harmonic and leave Griffin-Lim to guess the phase, which fills the space
between harmonics with noise. Here the network predicts only the controls of a synthesiser written in torch, so
the pitch is right by construction, there is no phase to recover, and the network spends its capacity on timbre:

    encoder: clip [B, 1, T] -> normalised log |STFT| [B, 1, S, S] (specvae's) -> the image VAE's conv encoder
             with one_hot(pitch) -> mu, logvar [B, D]: the note's timbre (instrument, loudness, envelope)
    decoder: [z, one_hot(pitch), log-pitch] [B, D + K + 1] -> Dense [C, 8] -> (upsample x2, conv 5) ...
             -> controls at `frames` steps [B, 1 + H + N, frames]:
             loudness a [B, 1, frames], harmonic distribution c [B, H, frames] (softmax, harmonics above
             Nyquist masked), noise band gains g [B, N, frames] (all positive: DDSP's exp-sigmoid)
    synthesiser: sum_k a c_k sin(2 pi k f0 n), amplitudes linear between frames, f0 the class's pitch
             + a fixed random-phase noise spectrogram (a buffer) shaped by g, inverted by a real-convolution iSTFT
    loss: DDSP's multi-scale spectral loss (|S| and log |S| distances at FFT sizes 2048 .. 64) + beta KL

The fundamental of each class comes from its name (C4 -> 261.6 Hz) and the data's sample rate, which is measured
by a pitch tracker from the training clips (the family is told the clips' shape, not their rate); classes that are
not pitch names (or no labels) get the median fundamental their clips are heard at. The noise is one fixed
realisation, so a latent always gives the same clip and the exported synthesiser has no random op. Sampling
draws the timbre from a mixture fitted to the training codes of every pitch together (`prior=gmm`): an
instrument heard at other pitches is drawn at any pitch, as the held-out instrument-pitch pairs need.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ...errors import ConfigError, DataError
from ...losses.vae import kl_per_dim, warmed_beta
from ...models.abilities import Reconstructs
from ...models.base import FAMILIES, ConditionalConfig, Family
from ...models.latent_prior import FittedPrior, PriorOptions, mixture_for
from ...models.vae import Encoder
from .dsp import istft, pitch_hz
from .notes import note_pitch
from .spectrogram import Spectrogram

START = 8  # control frames of the decoder's first feature map
NOMINAL_RATE = 16000  # the pitch tracker's rate: its lags in samples are what the measured rate is built from
# a measured rate within 1% of one of these is taken to be it (YIN reads instrument-notes' 16 kHz as 15,977)
RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)


class DDSPConfig(ConditionalConfig, PriorOptions):
    latent_dim: int = Field(16, ge=1, description="size of the timbre latent")
    hidden: int = Field(128, ge=1, description="width of the encoder's dense layer")
    width: float = Field(0.25, gt=0, description="multiplier of the encoder's channels (the image VAE's 32, 64, ...)")
    max_channels: int = Field(256, ge=8, description="cap on the encoder's channels per layer, before `width`")
    n_fft: int = Field(256, ge=16, le=2048, description="STFT size of the spectrogram the encoder reads")
    channels: int = Field(128, ge=4, description="channels of the control decoder's 1-D convolutions")
    frames: int = Field(128, ge=START, description="control frames a clip (8 x a power of two)")
    harmonics: int = Field(64, ge=1, description="harmonics of the fundamental the synthesiser can play")
    noise_bands: int = Field(65, ge=2, description="bands of the filtered-noise part (spread over 0 .. Nyquist)")
    scales: tuple[int, ...] = Field(
        (2048, 1024, 512, 256, 128, 64), min_length=1, description="FFT sizes of the multi-scale spectral loss"
    )
    reverb_taps: int = Field(
        4000, ge=0, description="taps of the learned room's impulse response (4,000: 0.25 s at 16 kHz; 0: dry)"
    )
    beta: float = Field(0.01, ge=0, description="weight of the KL term against the spectral loss")
    kl_warmup: int = Field(0, ge=0, description="steps over which the KL weight ramps linearly from 0 to beta")

    def check(self) -> None:
        """Errors that name the key: settings the decoder cannot be built with."""
        ups = math.log2(self.frames / START)
        if ups != int(ups):
            raise ConfigError(f"model.frames={self.frames}: expected 8 x a power of two (8, 16, ..., 128, 256)")


def exp_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """DDSP's positive output: 2 sigmoid(x)^ln 10 + 1e-7, a scale-like range with gentle gradients."""
    return 2.0 * torch.sigmoid(x).pow(math.log(10.0)) + 1e-7


class ControlDecoder(nn.Module):
    """(z [B, D], one_hot(pitch) [B, K], log-pitch [B, 1]) -> controls [B, 1 + H + N, frames]."""

    def __init__(self, cfg: DDSPConfig, classes: int):
        super().__init__()
        c = cfg.channels
        self.c = c
        self.fc = nn.Linear(cfg.latent_dim + classes + 1, c * START)
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(cfg.frames // START))):
            layers += [nn.Upsample(scale_factor=2.0), nn.Conv1d(c, c, 5, 1, 2), nn.LeakyReLU(0.2)]
        layers += [nn.Conv1d(c, c, 5, 1, 2), nn.LeakyReLU(0.2), nn.Conv1d(c, 1 + cfg.harmonics + cfg.noise_bands, 1)]
        self.net = nn.Sequential(*layers)
        with torch.no_grad():  # quiet noise at the start (DDSP's -5 bias): the harmonics are learned first
            self.net[-1].bias[1 + cfg.harmonics :] = -5.0

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(F.leaky_relu(self.fc(h), 0.2).view(-1, self.c, START))


class Synthesiser(nn.Module):
    """Controls [B, 1 + H + N, frames] and fundamentals [B] (cycles a sample) -> waveforms [B, 1, T].

    Control frame j holds from sample j * hop; amplitudes go linearly to the next frame's over the hop (the last
    frame holds). With f0 constant over a clip, sample j * hop + p of harmonic k is, by the angle sum,
    (a_kj + s_kj p) (sin A_kj cos B_kp + cos A_kj sin B_kp), A_kj = 2 pi k f0 j hop, B_kp = 2 pi k f0 p, s the
    slope: one batched matrix product [frames, 4H] x [4H, hop] a clip in place of B x H x T sines."""

    def __init__(self, cfg: DDSPConfig, length: int):
        super().__init__()
        self.length, self.harmonics = length, cfg.harmonics
        self.hop = math.ceil(length / cfg.frames)
        self.n_fft = 2 * self.hop  # noise frames overlap by half
        bins, noise_frames = self.n_fft // 2 + 1, length // self.hop + 1
        phase = torch.rand(bins, noise_frames, generator=torch.Generator().manual_seed(0)) * 2 * math.pi
        self.register_buffer("noise_re", phase.cos())  # [bins, noise frames]: unit magnitude, random phase
        self.register_buffer("noise_im", phase.sin())
        self.register_buffer("k", torch.arange(1, cfg.harmonics + 1, dtype=torch.float32))  # [H]
        self.register_buffer("starts", torch.arange(cfg.frames, dtype=torch.float32) * self.hop)  # [frames]
        self.register_buffer("p", torch.arange(self.hop, dtype=torch.float32))  # [hop]

    def harmonic(self, amps: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
        """Amplitudes [B, H, frames], frequencies [B, H] (cycles a sample) -> [B, 1, T]."""
        slope = (torch.cat([amps[..., 1:], amps[..., -1:]], -1) - amps) / self.hop  # [B, H, frames] a sample
        a = 2 * math.pi * torch.frac(freqs[..., None] * self.starts)  # [B, H, frames]; frac keeps float32 exact
        b = 2 * math.pi * freqs[..., None] * self.p  # [B, H, hop]
        left = torch.cat([amps * a.sin(), amps * a.cos(), slope * a.sin(), slope * a.cos()], 1)  # [B, 4H, frames]
        right = torch.cat([b.cos(), b.sin(), self.p * b.cos(), self.p * b.sin()], 1)  # [B, 4H, hop]
        return (left.transpose(1, 2) @ right).flatten(1)[:, None, : self.length]  # [B, frames, hop] -> [B, 1, T]

    def forward(self, controls: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        h = self.harmonics
        loud = exp_sigmoid(controls[:, :1])  # [B, 1, frames]
        freqs = f0[:, None] * self.k  # [B, H] cycles a sample
        above = (freqs >= 0.5).to(controls.dtype)[..., None]  # [B, H, 1]: above Nyquist, silent
        dist = torch.softmax(controls[:, 1 : 1 + h] - 1e4 * above, 1)  # [B, H, frames]
        gains = exp_sigmoid(controls[:, 1 + h :])  # [B, N, frames]
        frames = self.noise_re.shape[1]
        gains = F.interpolate(gains[:, None], size=(self.noise_re.shape[0], frames), mode="bilinear")[:, 0]
        noise = istft(gains * self.noise_re, gains * self.noise_im, self.n_fft, self.hop, self.length)
        return self.harmonic(loud * dist, freqs) + noise  # [B, 1, T]


class Reverb(nn.Module):
    """A learned room (DDSP's reverb): a clip [B, 1, T] plus its convolution with a learned impulse response of
    `taps` samples, by FFT. The response starts as quiet noise decaying over its length."""

    def __init__(self, taps: int, length: int):
        super().__init__()
        self.length = length
        self.n = 1 << math.ceil(math.log2(length + taps))  # no wrap-around
        decay = torch.exp(-6.0 * torch.arange(taps) / taps)
        self.ir = nn.Parameter(torch.randn(taps, generator=torch.Generator().manual_seed(0)) * 1e-3 * decay)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ir = F.pad(self.ir, (1, 0))  # [taps + 1]: the first tap is the dry path's, which is added apart
        wet = torch.fft.irfft(torch.fft.rfft(x, self.n) * torch.fft.rfft(ir, self.n), self.n)[..., : self.length]
        return x + wet


class Pitches(nn.Module):
    """Each class's fundamental (see the module's docstring): buffers cycles [max(K, 1)] (cycles a sample),
    log_pitch [max(K, 1)] (log2 of it, centred: the decoder's pitch input) and rate (the measured sample rate;
    0 where the classes are not pitch names)."""

    def __init__(self, classes: int):
        super().__init__()
        self.classes = classes
        k = max(classes, 1)
        self.register_buffer("cycles", torch.full((k,), 0.01))
        self.register_buffer("log_pitch", torch.zeros(k))
        self.register_buffer("rate", torch.zeros(()))

    @torch.no_grad()
    def fit(self, clips: np.ndarray, names: Optional[list[str]], labels: Optional[np.ndarray]) -> None:
        """From training clips [n, T] in [-1, 1], the class names and the clips' classes [n] (None if
        unconditional)."""
        heard = pitch_hz(clips, NOMINAL_RATE) / NOMINAL_RATE  # [n] cycles a sample, NaN where silent
        pitches = [note_pitch(str(c)) for c in names or []]
        if self.classes and None not in pitches and labels is not None:
            hz = 440.0 * 2.0 ** ((np.array(pitches, dtype=np.float64) - 69) / 12)  # [K]
            rate = float(np.nanmedian(hz[labels] / heard))
            rate = next((r for r in RATES if abs(rate / r - 1) < 0.01), round(rate))
            self.rate.fill_(rate)
            self.cycles.copy_(torch.from_numpy(hz / rate))
        else:
            ys = labels if self.classes and labels is not None else np.zeros(len(clips), int)
            for c in range(len(self.cycles)):
                mine = heard[(ys == c) & np.isfinite(heard)]
                if not len(mine):
                    raise DataError(f"ddsp: no training clip of class {c} has a pitch a tracker can hear")
                self.cycles[c] = float(np.median(mine))
        log2 = self.cycles.log2()
        self.log_pitch.copy_(log2 - log2.mean())

    def condition(self, z: torch.Tensor, y: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(the decoder's input [z, one_hot(y), log-pitch] [N, D + K + 1], fundamentals [N] in cycles a sample)."""
        i = torch.zeros_like(z[:, 0], dtype=torch.long) if y is None else y  # [N]
        parts = [z, self.log_pitch[i, None]]
        if self.classes:
            parts.insert(1, F.one_hot(i, self.classes).to(z.dtype))
        return torch.cat(parts, 1), self.cycles[i]


class NoteSynth(nn.Module):
    """The DDSP decoder the audio families use: (z [N, D], pitch classes y [N] or None) -> clips [N, 1, T] (not
    clipped): the control decoder, the harmonic-plus-noise synthesiser at the class's fundamental, the room."""

    def __init__(self, cfg: DDSPConfig, length: int, classes: int):
        super().__init__()
        cfg.check()
        self.pitches = Pitches(classes)
        self.decoder = ControlDecoder(cfg, classes)
        self.synth = Synthesiser(cfg, length)
        self.reverb = Reverb(cfg.reverb_taps, length) if cfg.reverb_taps else nn.Identity()

    def fit_data(self, train, to_model, class_names=None, labels=None) -> None:
        """The classes' fundamentals from (up to 1,024 of) the training clips (stored form) and their labels."""
        idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:1024]
        ys = None if labels is None else labels.cpu()[idx].numpy()
        self.pitches.fit(to_model(train[idx]).flatten(1).cpu().numpy(), class_names, ys)

    def start(self) -> None:
        """Nothing to do after a family's weight init: the decoder keeps its quiet-noise start."""

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        inputs, f0 = self.pitches.condition(z, y)
        return self.reverb(self.synth(self.decoder(inputs), f0))


class _Clipped(nn.Module):
    """The exportable decoder: a NoteSynth's clips clipped to [-1, 1]."""

    def __init__(self, notes: NoteSynth):
        super().__init__()
        self.notes = notes

    def forward(self, z, y=None):
        return self.notes(z, y).clamp(-1, 1)


def spectral_loss(x: torch.Tensor, target: torch.Tensor, scales: tuple[int, ...]) -> torch.Tensor:
    """DDSP's multi-scale spectral loss of waveforms [B, 1, T]: per FFT size (hop a quarter of it), the mean
    |S - S'| plus the mean |log S - log S'|, summed over sizes."""
    total = x.new_zeros(())
    for n in scales:
        win = torch.hann_window(n, device=x.device)
        s, t = (torch.stft(v[:, 0], n, n // 4, window=win, return_complex=True).abs() for v in (x, target))
        total = total + (s - t).abs().mean() + (torch.log(s + 1e-7) - torch.log(t + 1e-7)).abs().mean()
    return total


@FAMILIES.register("ddsp")
class DDSP(Reconstructs, FittedPrior, Family):
    name = "ddsp"
    Config = DDSPConfig
    modality = "audio"
    abilities = frozenset({"reconstruct", "interpolate", "traverse", "conditional"})
    optimizer = "ddsp"
    prior_by_class = False  # the timbre mixture serves every pitch: the held-out pairs are timbres at new pitches
    tiny = (
        "model.latent_dim=4",
        "model.hidden=16",
        "model.channels=16",
        "model.frames=32",
        "model.harmonics=8",
        "model.noise_bands=8",
        "model.n_fft=128",
        "model.scales=[512,128]",
        "model.prior_components=2",
        "model.reverb_taps=500",
    )
    search_space = {
        "train.lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
        "train.batch_size": {"type": "categorical", "choices": [8, 16, 32]},
        "model.latent_dim": {"type": "categorical", "choices": [8, 16, 32]},
        "model.channels": {"type": "categorical", "choices": [64, 128, 256]},
        "model.beta": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
    }
    presets = {
        # Pitch-conditioned notes: 16 timbre latents, a 128-channel control decoder, 64 harmonics and 65 noise
        # bands at 128 control frames a clip, the fitted mixture for sampling; Adam 1e-3, batch 16.
        "default": {
            "model": {"conditional": True, "prior": "gmm", "prior_components": 20},
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 16},
        },
    }

    def __init__(self, cfg: DDSPConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        self.spec = Spectrogram(cfg.n_fft, shape[-1])
        self.encoder = Encoder(cfg, (1, self.spec.side, self.spec.side), self.cond_classes)
        self.notes = NoteSynth(cfg, shape[-1], self.cond_classes)
        if cfg.kl_warmup:
            self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.gmm = mixture_for(cfg, cfg.latent_dim, 0)  # one mixture for every pitch (prior_by_class)

    def fit_data(self, train, to_model, class_names=None, labels=None) -> None:
        """The encoder's spectrogram statistics and the classes' fundamentals."""
        self.spec.fit(train, to_model)
        self.notes.fit_data(train, to_model, class_names, labels if self.conditional else None)

    def encode(self, x, y=None):
        """Waveforms [B, 1, T] (pitch classes y [B] if conditional) -> (mu, logvar), each [B, D]."""
        self._need_labels(y)
        return self.encoder(self.spec(x), y)

    def losses(self, x, y=None, beta: Optional[float] = None):
        """(loss, spectral, kl) of a batch of waveforms, with one reparameterised sample."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        spectral = spectral_loss(self.notes(z, y), x, self.cfg.scales)
        kl = kl_per_dim(mu, logvar).sum(1).mean()
        return spectral + (self.cfg.beta if beta is None else beta) * kl, spectral, kl

    def train_step(self, x, y, opts):
        c = self.cfg
        beta = warmed_beta(c.beta, c.kl_warmup, self.steps_done if c.kl_warmup else None)
        loss, spectral, kl = self.through()("losses", x, y if self.conditional else None, beta)
        opts[self.optimizer].zero_grad(set_to_none=True)
        loss.backward()
        opts[self.optimizer].step()
        return {"loss": loss.detach(), "spectral": spectral.detach(), "kl": kl.detach()}

    def reconstruct(self, x, y=None):
        return self.decode(self.encode(x, y)[0], y)

    def exportable(self) -> nn.Module:
        return _Clipped(self.notes)

    def export_example(self):
        args, names, _, dims = super().export_example()
        return args, names, ["audio"], dims
