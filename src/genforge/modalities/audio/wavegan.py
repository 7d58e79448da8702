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
`augment` takes DiffAugment's policies for clips (a shift in time, a cut span, a gain; losses/augment.py).

`spectrogram_critic` adds a second branch to D, in the way of MelGAN's and HiFi-GAN's spectral
discriminators: the clip's log-magnitude spectrogram (n_fft 256, 128 frames) goes through SpecGAN's
2-D conv stack (3x3 kernels, this width), and the dense logit (and projection) reads both branches'
features. The waveform critic alone judges short-range structure well but spectra slowly; through
the STFT the generator hears at once which harmonics a word lacks.

`generator="istft"` swaps G's upsampling to the sample rate for Vocos's head (Siuzdak 2023): the same
dense start and stride-4 stages (nearest-neighbour upsampling and a conv) only up to STFT frames
(n_fft 256, hop 64), then a 1x1 conv gives each frame's log-magnitudes and phases and an inverse STFT
gives the clip. No layer works at the sample rate, so G costs a fraction of the transposed stack's
time, and it sets the spectrum the critic's spectrogram branch hears directly, as SpecGAN's G does,
while learning its phase instead of leaving it to Griffin-Lim.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from ...losses.augment import CLIP_POLICIES, check_policies
from ...models.base import FAMILIES, append_class
from ...models.dcgan import DCGAN, DCGANConfig, Discriminator, d_norm
from .ddsp import DDSPConfig, NoteSynth
from .dsp import istft, pad_to, square_hop, square_magnitude

BASE = 16  # length of G's first feature map


class WaveGANConfig(DCGANConfig):
    width: float = Field(1.0, gt=0, description="model size d = 64 * width (the paper: d = 64)")
    kernel: int = Field(25, ge=3, description="kernel size of every 1-D conv (odd; the paper: 25)")
    phase_shuffle: int = Field(2, ge=0, description="D's phase shuffle: shift features by up to this many samples")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each discriminator conv (the paper: none)")
    smooth_init: bool = Field(
        False,
        description="G's transposed convs start as nearest-neighbour upsampling then a random conv, so that "
        "samples do not all start as one shared periodic pattern",
    )
    spectrogram_critic: bool = Field(
        False, description="D also judges the clip's log-magnitude spectrogram with a 2-D conv branch (3x3 kernels)"
    )
    generator: Literal["transposed", "istft", "ddsp"] = Field(
        "transposed",
        description="G's last layers: the paper's transposed convs up to the sample rate, upsampling to STFT "
        "frames and an inverse STFT of predicted magnitudes and phases (Vocos's head; its own variance-keeping "
        "init, model.init sets D's), or the controls of DDSP's harmonic-plus-noise synthesiser at the class's "
        "pitch (the ddsp family's decoder, 8d channels)",
    )

    @field_validator("augment")
    @classmethod
    def _clip_policies(cls, v: str) -> str:
        return check_policies(v, CLIP_POLICIES, "clips")


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


@torch.no_grad()
def smooth_upsampling(conv: nn.ConvTranspose1d) -> None:
    """Make a stride-s transposed conv [C_in, C_out, k] start as nearest-neighbour upsampling followed by a
    convolution: its kernel becomes its first k - s + 1 taps convolved with a box of s ones (scaled by
    1 / sqrt(s) to keep the variance). Every output phase then sums the same taps, so inputs with a common
    mean (ReLU outputs, biases) no longer print one periodic pattern on every sample."""
    s = conv.stride[0]
    c_in, c_out, k = conv.weight.shape
    taps = conv.weight[..., : k - s + 1].reshape(-1, 1, k - s + 1) / math.sqrt(s)
    box = torch.ones(1, 1, s, device=taps.device)
    conv.weight.copy_(F.conv1d(F.pad(taps, (s - 1, s - 1)), box).reshape(c_in, c_out, k))


def wave_generator(cfg: WaveGANConfig, shape: tuple[int, int], n_classes: int = 0) -> nn.Module:
    """G of the configured kind (`generator`)."""
    if cfg.generator == "ddsp":
        return NoteSynth(DDSPConfig(latent_dim=cfg.latent_dim, channels=8 * _dim(cfg)), shape[-1], n_classes)
    return (WaveGenerator if cfg.generator == "transposed" else IstftGenerator)(cfg, shape, n_classes)


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
        self.smooth = cfg.smooth_init

    @torch.no_grad()
    def start(self) -> None:
        """After the family's weight init: with `smooth_init`, each transposed conv starts as nearest-neighbour
        upsampling and a conv (`smooth_upsampling`)."""
        if self.smooth:
            for m in self.net:
                if isinstance(m, nn.ConvTranspose1d):
                    smooth_upsampling(m)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.fc(append_class(z, y, self.n_classes)).view(-1, self.c0, BASE)  # [B, 16d, 16]
        return self.net(torch.relu(h))[..., : self.length]  # [B, 1, 16 * 4**n] cropped to [B, 1, T]


class IstftGenerator(nn.Module):
    """z [B, latent] -> clip [B, 1, T] through an inverse STFT of predicted magnitudes and phases."""

    N_FFT, HOP, KERNEL, STAGES = 256, 64, 7, 2
    LOG_MAG_START = -3.0  # head bias: the first samples are quiet noise (|X| ~ 0.05), not full-scale

    def __init__(self, cfg: WaveGANConfig, shape: tuple[int, int], n_classes: int = 0):
        super().__init__()
        self.n_classes, self.length = n_classes, shape[-1]
        self.frames = self.length // self.HOP + 1  # centred frames covering T samples
        self.base = math.ceil(self.frames / 4**self.STAGES)
        c, k = 8 * _dim(cfg), self.KERNEL
        self.c0 = c
        self.fc = nn.Linear(cfg.latent_dim + n_classes, self.base * c)
        layers: list[nn.Module] = []
        for _ in range(self.STAGES):  # [c, base] -> [c, 16 * base]; nearest-neighbour upsampling has no checkerboard
            layers += [nn.Upsample(scale_factor=4), nn.Conv1d(c, c, k, padding=k // 2), nn.ReLU()]
        self.net = nn.Sequential(*layers)
        self.bins = self.N_FFT // 2 + 1
        self.head = nn.Conv1d(c, 2 * self.bins, 1)

    @torch.no_grad()
    def start(self) -> None:
        """After the family's weight init, whatever `model.init` says (it still sets D's): variance-keeping
        weights (He et al. 2015 for the ReLU layers, unit gain for the head) and every bin at
        |X| = e^LOG_MAG_START: then each z has its own phases (spread over the circle) and loudness, so fresh
        samples differ. PyTorch's default init shrinks activations at each layer, and the head's outputs
        barely moved with z (fresh samples correlated 0.84)."""
        for m in (self.fc, *self.net, self.head):
            if isinstance(m, (nn.Linear, nn.Conv1d)):
                gain = "linear" if m is self.head else "relu"
                nn.init.kaiming_normal_(m.weight, nonlinearity=gain)
                nn.init.zeros_(m.bias)
        self.head.bias[: self.bins].fill_(self.LOG_MAG_START)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.fc(append_class(z, y, self.n_classes)).view(-1, self.c0, self.base)  # [B, c, base]
        h = self.head(self.net(torch.relu(h)))[..., : self.frames]  # [B, 2 * bins, frames]
        log_mag, phase = h.split(self.bins, 1)  # each [B, bins, frames]
        mag = torch.exp(log_mag.clamp(max=4.0))  # at most e^4 ~ 55: a full-scale sine's peak bin is 32
        phase = math.pi * phase  # unit-scale conv outputs spread over the circle
        x = istft(mag * torch.cos(phase), mag * torch.sin(phase), self.N_FFT, self.HOP, self.length)
        return torch.tanh(x)  # [B, 1, T]


class SpectrogramBranch(nn.Module):
    """Waveforms [B, 1, T] -> features [B, F] of their log-magnitude spectrograms [B, 1, 128, 128]
    (n_fft 256, hop ceil(T / 128), the Nyquist bin and the last frame dropped), by SpecGAN's conv stack."""

    SIDE = 128
    FLOOR = 0.01  # magnitude floor of the log: quiet bins do not blow up the generator's gradient

    def __init__(self, cfg: WaveGANConfig, length: int):
        super().__init__()
        self.hop = square_hop(length, self.SIDE)
        conv = Discriminator(cfg.model_copy(update={"kernel": 3}), (1, self.SIDE, self.SIDE))
        self.net = conv.net[:-1]  # the convs and Flatten, without the dense logit
        self.n_features = conv.net[-1].in_features

    def picture(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 1, T] -> the scaled log-magnitude spectrogram [B, 1, 128 bins, 128 frames], about -0.9..2."""
        return (torch.log(square_magnitude(x, self.SIDE, self.hop) + self.FLOOR) + 2) / 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.picture(x))  # [B, F]


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
        self.spectral = SpectrogramBranch(cfg, shape[-1]) if cfg.spectrogram_critic else None
        n_features = chans[-1] * BASE + (self.spectral.n_features if self.spectral else 0)
        self.out = nn.Linear(n_features, 1)
        self.embed = nn.Embedding(n_classes, n_features) if n_classes else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = pad_to(x, self.padded)  # [B, 1, 16 * 4**n]
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = self.drop(self.act(norm(conv(h))))
            if i < len(self.convs) - 1:  # the paper shuffles after every layer but the last
                h = phase_shuffle(h, self.shuffle)
        h = h.flatten(1)  # [B, 16d * 16]
        return h if self.spectral is None else torch.cat([h, self.spectral(x)], 1)  # [B, 16d * 16 + F]

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.features(x)
        logit = self.out(h).squeeze(1)  # [B]
        return logit if self.embed is None else logit + (self.embed(y) * h).sum(1)


# the `default` preset, which `notes` plays through DDSP's synthesiser
DEFAULT_MODEL = {
    "width": 0.25,
    "kernel": 25,
    "loss": "hinge",
    "spectral_norm": True,
    "ema": 0.99,
    "init": "torch",
    "smooth_init": True,
    "spectrogram_critic": True,
    "mode_seeking": 1.0,
    "generator": "istft",
}
DEFAULT_TRAIN = {"lr": 2e-4, "betas": [0.5, 0.9], "batch_size": 32}


@FAMILIES.register("wavegan")
class WaveGAN(DCGAN):
    """DCGAN's training step (losses, GP, R1, n_critic, TTUR, EMA) on 1-D waveform networks."""

    name = "wavegan"
    Config = WaveGANConfig
    modality = "audio"
    generator_class = staticmethod(wave_generator)
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
        # For quality per CPU-minute: d = 16 with the paper's kernel 25 (D's), hinge loss with spectral norm and
        # one D step, an EMA generator, Adam 2e-4 (0.5, 0.9), batch 32; against the collapse to one sound, the
        # spectrogram branch in D, MSGAN's term and G's inverse-STFT head (smooth_init serves the transposed G
        # of `--set model.generator=transposed`); measured one by one: docs/audio.md.
        "default": {"model": DEFAULT_MODEL, "train": DEFAULT_TRAIN},
        # Pitch-conditioned notes, GANSynth's task on DDSP's synthesiser (docs/music.md): the default's critic
        # (waveform and spectrogram branches, projection of the pitch) judging the clips G's controls play.
        "notes": {"model": {**DEFAULT_MODEL, "generator": "ddsp", "conditional": True}, "train": DEFAULT_TRAIN},
    }
    default_preset = "default"

    def __init__(self, cfg: WaveGANConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        self.G.start()  # each generator's own start, after DCGAN's init
        self._copy_to_ema()

    def _copy_to_ema(self) -> None:
        if self.cfg.ema is not None:  # the EMA copy starts where G starts
            self.G_ema.load_state_dict(self.G.state_dict())

    def fit_data(self, train, to_model, class_names=None, labels=None) -> None:
        """The DDSP generator's class fundamentals (the other generators need nothing of the data)."""
        if self.cfg.generator == "ddsp":
            self.G.fit_data(train, to_model, class_names, labels if self.conditional else None)
            self._copy_to_ema()
