"""voice-vae: a VAE that keeps who speaks (a speaker latent) apart from what is said (a content latent).

After AutoVC (Qian et al. 2019: a content code narrow enough to carry no voice, a speaker code from other
utterances of the speaker) and FHVAE (Hsu et al. 2017: a sequence-level latent pooled over time beside
segment-level latents, and a discriminative term that makes the sequence latent name its speaker):

    spectrogram: clip [B, 1, T] -> normalised log |STFT| [B, 1, S, S] (specvae's), read as [B, S bins, S frames]
    speaker encoder: [B, S, S] -> 3 x Conv1d(k 5) -> mean and std over frames [B, 2C] -> (mu_s, logvar_s) [B, Ds]
        (pooled over time: several clips of a speaker average into one voice)
    content encoder: [B, S, S] -> Conv1d, instance norm (a clip's own channel means and spreads, much of a
        voice, are taken out) -> strided Conv1d down to S / stride frames -> (mu_c, logvar_c) [B, Dc, S / stride]
    decoder: [z_c upsampled to S frames, z_s at every frame] [B, Dc + Ds, S] -> Conv1d -> residual Conv1d
        blocks -> [B, S bins, S frames] -> Griffin-Lim
    loss: gaussian reconstruction (sigma in normalised units) + beta KL(content) + speaker_beta KL(speaker)
        + speaker_weight x cross-entropy of a linear speaker classifier on mu_s (FHVAE's discriminative term)

In training the speaker encoder reads another clip of the same speaker (`model.reference=other`), so the
speaker code cannot carry the words of the clip it rebuilds. When training ends, each training speaker's voice
(the mean mu_s of their clips), a gaussian over those voices (new voices are drawn from it) and a gaussian of
content codes for each word (what `--class seven` draws) are fitted and kept in buffers with the weights.
A latent of the sampler is [z_s (Ds), z_c flattened (Dc x S / stride)].
"""

from __future__ import annotations

import json
import math
from typing import Literal, NamedTuple, Optional

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ...errors import ConfigError, DataError
from ...losses.vae import kl_per_dim, warmed_beta
from ...models.abilities import Reconstructs, Voices
from ...models.base import FAMILIES, ConditionalConfig, Family
from .spectrogram import Spectrogram
from .voice_metrics import voice_figures

NAMES_BYTES = 1 << 16  # room for the training speakers' names (JSON) in a buffer that travels with the weights


class VoiceVAEConfig(ConditionalConfig):
    n_fft: int = Field(256, ge=16, le=2048, description="STFT size; the spectrogram is n_fft/2 bins x n_fft/2 frames")
    griffin_lim_iters: int = Field(32, ge=1, le=1000, description="Griffin-Lim iterations turning it to sound")
    channels: int = Field(128, ge=8, description="channels of every 1-D convolution")
    blocks: int = Field(3, ge=0, description="residual blocks of the decoder")
    speaker_dim: int = Field(16, ge=1, description="size of the speaker latent (the voice)")
    content_dim: int = Field(3, ge=1, description="channels of the frame-level content latent (its narrowness)")
    content_stride: int = Field(8, ge=1, description="spectrogram frames one content code covers (a power of 2)")
    sigma: float = Field(0.1, gt=0, description="std of the gaussian decoder, in normalised spectrogram units")
    beta: float = Field(1.0, ge=0, description="weight of the content latent's KL (0: a deterministic code)")
    speaker_beta: float = Field(0.01, ge=0, description="weight of the speaker latent's KL")
    speaker_weight: float = Field(1.0, ge=0, description="weight of the speaker classifier's cross-entropy on mu_s")
    content_adversary: float = Field(
        0.0,
        ge=0,
        description="weight of a speaker classifier on the content code trained against the encoder "
        "(gradient reversal): voice pushed out of the content (0: none)",
    )
    kl_warmup: int = Field(0, ge=0, description="steps over which both KL weights ramp linearly from 0")
    reference: Literal["other", "same"] = Field(
        "other", description="the clip the speaker encoder reads in training: another of the speaker's, or itself"
    )
    max_speakers: int = Field(1024, ge=2, description="room for training speakers (the voice table's rows)")

    def check(self, side: int) -> None:
        """Errors that name the key: settings the networks cannot be built with."""
        if 2 ** int(math.log2(self.content_stride)) != self.content_stride or self.content_stride > side:
            raise ConfigError(
                f"model.content_stride={self.content_stride}: expected a power of two up to {side} (the frames)"
            )


def conv(c_in: int, c_out: int, k: int = 5, stride: int = 1) -> nn.Conv1d:
    return nn.Conv1d(c_in, c_out, k, stride, (k - stride + 1) // 2)


class SpeakerEncoder(nn.Module):
    """Spectrograms [B, S bins, F frames] -> (mu_s, logvar_s) [B, Ds], pooled over frames."""

    def __init__(self, bins: int, c: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(conv(bins, c), nn.LeakyReLU(0.2), conv(c, c), nn.LeakyReLU(0.2), conv(c, c))
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(2 * c, c), nn.LeakyReLU(0.2), nn.Linear(c, 2 * dim))

    def forward(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(s)  # [B, C, F]
        stats = torch.cat([h.mean(2), h.std(2)], 1)  # [B, 2C]: x-vector's statistics pooling
        return self.head(stats).chunk(2, 1)


class ContentEncoder(nn.Module):
    """Spectrograms [B, S, F] -> (mu_c, logvar_c) [B, Dc, F / stride]."""

    def __init__(self, bins: int, c: int, dim: int, stride: int):
        super().__init__()
        layers: list[nn.Module] = [conv(bins, c), nn.InstanceNorm1d(c), nn.LeakyReLU(0.2)]
        for _ in range(int(math.log2(stride))):
            layers += [conv(c, c, 4, 2), nn.InstanceNorm1d(c), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv1d(c, 2 * dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(s).chunk(2, 1)


class Decoder(nn.Module):
    """(z_s [B, Ds], z_c [B, Dc, F']) -> spectrograms [B, 1, S bins, F frames] in [-1, 1]."""

    def __init__(self, cfg: VoiceVAEConfig, bins: int):
        super().__init__()
        c, self.stride = cfg.channels, cfg.content_stride
        self.inp = conv(cfg.content_dim + cfg.speaker_dim, c)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LeakyReLU(0.2), conv(c, c), nn.LeakyReLU(0.2), conv(c, c)) for _ in range(cfg.blocks)
        )
        self.out = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv1d(c, bins, 1))

    def forward(self, z_s: torch.Tensor, z_c: torch.Tensor) -> torch.Tensor:
        frames = z_c.shape[2] * self.stride
        h = torch.cat([z_c.repeat_interleave(self.stride, 2), z_s[:, :, None].expand(-1, -1, frames)], 1)
        h = self.inp(h)  # [B, C, F]
        for block in self.blocks:
            h = h + block(h)
        return torch.tanh(self.out(h))[:, None]  # [B, 1, S, F]


class _References(NamedTuple):
    """The training clips (stored form, on the CPU) grouped by speaker: clips[order[start[i] : start[i] + count[i]]]
    are speaker i's."""

    clips: torch.Tensor
    order: torch.Tensor
    start: torch.Tensor
    count: torch.Tensor


class _Reversed(torch.autograd.Function):
    """The identity forward, the gradient negated backward: what the classifier learns, the encoder unlearns."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class _Speech(nn.Module):
    """The exportable decoder: (z [N, Ds + Dc F'], y [N] or None) -> waveforms [N, 1, T]."""

    def __init__(self, decoder: Decoder, spec: Spectrogram, dims: tuple[int, int, int], iters: int):
        super().__init__()
        self.decoder, self.spec, self.dims, self.iters = decoder, spec, dims, iters

    def forward(self, z, y=None):
        ds, dc, frames = self.dims
        return self.spec.invert(self.decoder(z[:, :ds], z[:, ds:].reshape(-1, dc, frames)), self.iters)


@FAMILIES.register("voice-vae")
class VoiceVAE(Voices, Reconstructs, Family):
    name = "voice-vae"
    Config = VoiceVAEConfig
    modality = "audio"
    abilities = frozenset({"voice", "reconstruct", "conditional"})
    # (the adversary on: the family suite then holds its path to exact resumes and exports too)
    tiny = ("model.channels=16", "model.blocks=1", "model.n_fft=128", "model.griffin_lim_iters=4",
            "model.content_adversary=1")  # fmt: skip
    search_space = {
        "train.lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
        "model.content_dim": {"type": "categorical", "choices": [2, 4, 8]},
        "model.content_stride": {"type": "categorical", "choices": [4, 8, 16]},
        "model.speaker_weight": {"type": "float", "low": 0.1, "high": 10.0, "log": True},
    }
    presets = {
        # AutoVC's layout at CPU size: a deterministic content code of 8 channels a 16 frames (its bottleneck of
        # 2 x 8 a 16 frames), the speaker code read from other clips of the speaker, no speaker classifier.
        "paper": {
            "model": {
                "conditional": True,
                "content_dim": 8,
                "content_stride": 16,
                "beta": 0.0,
                "speaker_weight": 0.0,
                "reference": "other",
            },
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 32},
        },  # fmt: skip
        # For voices kept apart at 10 CPU-minutes (docs/voices.md): a variational content code of 3 channels a
        # 8 frames (4 channels moved the voice in 59% of conversions, 3 in 69%, 2 in 76% but lost the words),
        # FHVAE's speaker classifier on the speaker code, the reference read from another clip.
        "default": {
            "model": {"conditional": True},
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 32},
        },
    }

    def __init__(self, cfg: VoiceVAEConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        self.spec = Spectrogram(cfg.n_fft, shape[-1])
        side = self.spec.side
        cfg.check(side)
        self.frames = side // cfg.content_stride  # content codes a clip
        self.speaker = SpeakerEncoder(side, cfg.channels, cfg.speaker_dim)
        self.content = ContentEncoder(side, cfg.channels, cfg.content_dim, cfg.content_stride)
        self.decoder = Decoder(cfg, side)
        self.classify = nn.Linear(cfg.speaker_dim, cfg.max_speakers)  # FHVAE's discriminative term
        # the speaker guessed from the content code, against the content encoder
        self.adversary = nn.Linear(2 * cfg.content_dim, cfg.max_speakers) if cfg.content_adversary else None
        k, dc, ds = max(n_classes, 1), cfg.content_dim * self.frames, cfg.speaker_dim
        self.register_buffer("voices", torch.zeros(cfg.max_speakers, ds))  # each training speaker's voice
        self.register_buffer("voice_mean", torch.zeros(ds))  # the gaussian new voices are drawn from
        self.register_buffer("voice_chol", torch.eye(ds))
        self.register_buffer("content_mean", torch.zeros(k, dc))  # a gaussian of content codes a word
        self.register_buffer("content_std", torch.ones(k, dc))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.register_buffer("names", torch.zeros(NAMES_BYTES, dtype=torch.uint8))  # JSON of the speakers' names
        if cfg.kl_warmup:
            self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self._refs: Optional[_References] = None  # the training clips by speaker, which references are drawn from

    # ------------------------------------------------------------------ data

    @property
    def latent_dim(self) -> int:
        return self.cfg.speaker_dim + self.cfg.content_dim * self.frames

    def training_labels(self, data, device) -> torch.Tensor:
        """[N, 2] (word, speaker index) of the training clips; keeps the clips by speaker for the references."""
        if data.train_speakers is None:
            raise DataError(
                f"voice-vae learns voices from clips whose speaker is known; {data.name} does not name them: use "
                "spoken-digits, voice-digits, a folder of <speaker>/<word>/*.wav or a CSV of file, speaker, text"
            )
        names = sorted(set(data.train_speakers))
        if len(names) > self.cfg.max_speakers:
            raise ConfigError(f"{len(names)} training speakers; model.max_speakers is {self.cfg.max_speakers}")
        blob = json.dumps(names).encode()
        if len(blob) > NAMES_BYTES:
            raise DataError(f"the training speakers' names take {len(blob)} bytes; at most {NAMES_BYTES} fit")
        self.names.zero_()
        self.names[: len(blob)] = torch.frombuffer(bytearray(blob), dtype=torch.uint8)
        index = {name: i for i, name in enumerate(names)}
        who = torch.tensor([index[s] for s in data.train_speakers])
        count = torch.bincount(who, minlength=len(names))
        self._refs = _References(data.tensor("train"), torch.argsort(who, stable=True), count.cumsum(0) - count, count)
        words = data.labels("train")
        words = torch.zeros_like(who) if words is None else words
        return torch.stack([words, who], 1).to(device)

    def voice_names(self) -> list[str]:
        blob = bytes(self.names.cpu().numpy()).rstrip(b"\0")
        return json.loads(blob) if blob else []

    def fit_data(self, train, to_model, class_names=None, labels=None) -> None:
        self.spec.fit(train, to_model)

    def _bins(self, x: torch.Tensor) -> torch.Tensor:
        """Waveforms [B, 1, T] -> normalised spectrograms [B, S bins, S frames]."""
        return self.spec(x)[:, 0]

    def _reference(self, who: torch.Tensor) -> torch.Tensor:
        """Another training clip of each speaker of `who` [B] (model form [B, 1, T])."""
        r, w = self._refs, who.cpu()
        pick = r.order[r.start[w] + (torch.rand(len(w)) * r.count[w]).long()]  # uniform within each speaker's
        return r.clips[pick].to(who.device).float() / 32768.0  # int16 -> model form, as AudioModality

    # ------------------------------------------------------------------ training

    def losses(self, x, who, ref, betas):
        """(loss, parts) of clips x [B, 1, T] of speakers `who` [B], their speaker code read from `ref`."""
        c = self.cfg
        s = self._bins(x)
        mu_s, lv_s = self.speaker(self._bins(ref))
        mu_c, lv_c = self.content(s)
        z_s = mu_s + torch.randn_like(mu_s) * (0.5 * lv_s).exp()
        z_c = mu_c if c.beta == 0 else mu_c + torch.randn_like(mu_c) * (0.5 * lv_c).exp()
        rec = (self.decoder(z_s, z_c)[:, 0] - s).pow(2).sum((1, 2)).mean() / (2 * c.sigma**2)
        kl_c = kl_per_dim(mu_c.flatten(1), lv_c.flatten(1)).sum(1).mean()
        kl_s = kl_per_dim(mu_s, lv_s).sum(1).mean()
        n = len(self._refs.count)  # the classifiers' rows of speakers there are
        ce = F.cross_entropy(self.classify(mu_s)[:, :n], who)
        loss = rec + betas[0] * kl_c + betas[1] * kl_s + c.speaker_weight * ce
        parts = {"reconstruction": rec, "kl_content": kl_c, "kl_speaker": kl_s, "speaker_ce": ce}
        if self.adversary is not None:
            pooled = _Reversed.apply(torch.cat([mu_c.mean(2), mu_c.std(2)], 1))  # [B, 2 Dc]
            parts["content_ce"] = F.cross_entropy(self.adversary(pooled)[:, :n], who)
            loss = loss + c.content_adversary * parts["content_ce"]
        return loss, parts

    def train_step(self, x, y, opts):
        c = self.cfg
        if self._refs is None:
            raise RuntimeError("voice-vae: training_labels(data) gives the speakers before the first step")
        who = y[:, 1]
        ref = self._reference(who) if c.reference == "other" else x
        done = self.steps_done if c.kl_warmup else None
        betas = (warmed_beta(c.beta, c.kl_warmup, done), warmed_beta(c.speaker_beta, c.kl_warmup, done))
        loss, parts = self.through()("losses", x, who, ref, betas)
        opts[self.optimizer].zero_grad(set_to_none=True)
        loss.backward()
        opts[self.optimizer].step()
        return {"loss": loss.detach()} | {k: v.detach() for k, v in parts.items()}

    @torch.no_grad()
    def finish_training(self, train, labels, to_model) -> None:
        """The voice table, the gaussian of new voices and each word's gaussian of content codes."""
        self.eval()
        mu_s, mu_c = [], []
        for part in train.split(256):
            s = self._bins(to_model(part).to(self.device))
            mu_s.append(self.speaker(s)[0])
            mu_c.append(self.content(s)[0].flatten(1))
        mu_s, mu_c = torch.cat(mu_s), torch.cat(mu_c)
        who, words = labels[:, 1].to(self.device), labels[:, 0].to(self.device)
        present = torch.unique(who)  # a speaker whose every clip went to the watch's validation slice has none
        voices = torch.stack([mu_s[who == i].mean(0) for i in present.tolist()])
        self.voice_mean.copy_(voices.mean(0))
        self.voices[: len(self.voice_names())] = self.voice_mean  # those speakers get the mean voice
        self.voices[present] = voices
        n = len(voices)
        cov = torch.cov(voices.T) if n > 1 else torch.eye(voices.shape[1], device=self.device)
        shrunk = 0.9 * cov + 0.1 * torch.diag(cov.diagonal().clamp_min(1e-4))  # few speakers: a stable factor
        self.voice_chol.copy_(torch.linalg.cholesky(shrunk + 1e-5 * torch.eye(len(cov), device=self.device)))
        for k in range(self.content_mean.shape[0]):
            mine = mu_c[words == k] if self.conditional else mu_c
            if len(mine):
                self.content_mean[k] = mine.mean(0)
                self.content_std[k] = mine.std(0).nan_to_num(0.0) if len(mine) > 1 else 0.0
        self.fitted.fill_(True)
        self.train()

    # ------------------------------------------------------------------ sampling

    def prior(self, n, generator=None, labels=None):
        """[new voices, each label's content codes]: from the fitted gaussians once training is done, else N(0, I)."""
        if not bool(self.fitted):
            return super().prior(n, generator, labels)
        return torch.cat([self.new_voices(n, generator), self.content_codes(labels, n, generator)], 1)

    def new_voices(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n voices [n, Ds] drawn from the gaussian fitted to the training speakers' voices."""
        e = torch.randn(n, self.cfg.speaker_dim, generator=generator).to(self.device)
        return self.voice_mean + e @ self.voice_chol.T

    def content_codes(self, labels, n: int, generator=None) -> torch.Tensor:
        """Content codes [n, Dc F'] of the words `labels` [n] (or any word), from each word's gaussian."""
        k = torch.zeros(n, dtype=torch.long, device=self.device) if labels is None else labels.to(self.device)
        e = torch.randn(n, self.content_mean.shape[1], generator=generator).to(self.device)
        return self.content_mean[k] + e * self.content_std[k]

    def named_voice(self, name: str) -> torch.Tensor:
        names = self.voice_names()
        if name not in names:
            shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
            raise ConfigError(f"--voice {name!r}: not a training speaker of this run; its speakers: {shown}")
        return self.voices[names.index(name)]

    @torch.no_grad()
    def voice_of(self, x: torch.Tensor) -> torch.Tensor:
        """Clips [N, 1, T] (model form) of one speaker -> their voice [Ds]: the mean of their speaker codes."""
        return self.speaker(self._bins(x.to(self.device)))[0].mean(0)

    @torch.no_grad()
    def speak(self, voices: torch.Tensor, y: Optional[torch.Tensor], generator=None) -> torch.Tensor:
        """Voices [N, Ds] saying the words y [N] -> clips [N, 1, T] (model form)."""
        z = torch.cat([voices.to(self.device), self.content_codes(y, len(voices), generator)], 1)
        return self.decode_batches(z, y if self.conditional else None, 256)

    @torch.no_grad()
    def convert(self, x: torch.Tensor, voices: torch.Tensor) -> torch.Tensor:
        """Clips [N, 1, T] (model form) -> the same words in voices [N, Ds]."""
        mu_c = self.content(self._bins(x.to(self.device)))[0]
        return self.exportable()(torch.cat([voices.to(self.device), mu_c.flatten(1)], 1))

    def own_figures(self, data, extractor, names, seed: int = 0) -> dict:
        """The voice figures (voice_metrics.py): voices and words kept, new voices new, each beside its floor."""
        return voice_figures(self, data, names, seed=seed)

    def encode(self, x, y=None):
        """Clips [B, 1, T] (model form) -> (mu, logvar) [B, Ds + Dc F'] of the latent the sampler draws:
        the speaker code read from each clip itself, then its content codes."""
        s = self._bins(x.to(self.device))
        (mu_s, lv_s), (mu_c, lv_c) = self.speaker(s), self.content(s)
        return torch.cat([mu_s, mu_c.flatten(1)], 1), torch.cat([lv_s, lv_c.flatten(1)], 1)

    def reconstruct(self, x, y=None):
        return self.exportable()(self.encode(x)[0])

    def exportable(self) -> nn.Module:
        dims = (self.cfg.speaker_dim, self.cfg.content_dim, self.frames)
        return _Speech(self.decoder, self.spec, dims, self.cfg.griffin_lim_iters)

    def export_example(self):
        args, names, _, dims = super().export_example()
        return args, names, ["audio"], dims
