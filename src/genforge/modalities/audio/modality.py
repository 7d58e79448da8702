"""Audio: int16 clips [N, 1, T] stored, float [-1, 1] for models, WAV files and players for users."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import torch
from pydantic import Field
from torch import nn

from ...config import BaseDataConfig
from ...errors import DataError, RunError
from ...io import CONFIG, atomic_write, fig_png, img_tag, read_json
from ..base import Modality, file_tag, random_rows, register_modality
from .dsp import griffin_lim, log_mel, read_audio, resample, spectrogram_png, square_hop, stft, wav_bytes
from .report import audio_report, format_audio_report
from .sources import EXTENSIONS, SILENT_PEAK, fit_clip, load_audio, read_clip, to_int16


class AudioDataConfig(BaseDataConfig):
    """Audio data: every clip resampled, mixed to mono, leading silence trimmed, cropped or padded."""

    source: str = Field(
        "spoken-digits",
        description="`spoken-digits`, `instrument-notes`, `voice-digits`, or a path: a folder of WAV/FLAC/OGG files "
        "(<speaker>/<word>/ subfolders: voices) or a CSV of file, speaker, text",
    )
    sample_rate: int = Field(16000, ge=1000, le=96000, description="every clip is resampled to this rate (Hz)")
    seconds: float = Field(1.0, gt=0, le=30, description="clip length: longer clips are cropped, shorter padded")
    max_seconds: float = Field(60.0, gt=0, description="files longer than this are skipped as far too long")
    clips: int = Field(3000, ge=20, le=100_000, description="spoken-digits: clips to synthesise (cached)")
    pitches: tuple[int, int] = Field((48, 84), description="instrument-notes: the lowest and highest MIDI pitch")
    split_by: Literal["speaker", "utterance"] = Field(
        "speaker",
        description="voice sources (spoken-digits, voice-digits, voice-folder, voice-table): test clips of speakers "
        "training never hears, or unseen clips of the training speakers",
    )


FEATURE_DIM = 128
GAP = 0.25  # seconds of silence between clips joined into one file


@dataclass
class Clips:
    """What a user gets: float32 waveforms [N, T] in [-1, 1] and their sample rate."""

    audio: np.ndarray
    rate: int

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, i):
        return Clips(self.audio[i], self.rate) if isinstance(i, slice) else self.audio[i]

    def joined(self) -> np.ndarray:
        """All clips one after another, GAP seconds of silence between them: [sum T + gaps]."""
        gap = np.zeros(int(GAP * self.rate), np.float32)
        return np.concatenate([p for clip in self.audio for p in (clip, gap)][:-1]) if len(self) else gap


def wav_player(wav: bytes) -> str:
    """An <audio> player with a WAV file embedded as a data URI."""
    b64 = base64.b64encode(wav).decode()
    return f'<audio controls preload="none" style="width:130px" src="data:audio/wav;base64,{b64}"></audio>'


class AudioBackbone(nn.Module):
    """Waveforms [B, 1, T] -> log-mel [B, 1, 64, frames] -> small CNN -> features [B, 128]."""

    def __init__(self, rate: int):
        super().__init__()
        self.rate = rate

        def block(cin, cout, stride=1):
            return [nn.Conv2d(cin, cout, 3, stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.norm = nn.BatchNorm2d(1)  # learned scale of log-mel values
        # strided convolutions only: about 2M multiply-adds a one-second clip and no full-resolution feature
        # maps, so that training it (and the usefulness figure's classifiers) takes a minute or two on a CPU
        self.net = nn.Sequential(
            *block(1, 16, 2),  # [B, 16, 32, frames/2]
            *block(16, 32, 2),  # [B, 32, 16, frames/4]
            *block(32, 64, 2),  # [B, 64, 8, frames/8]
            *block(64, FEATURE_DIM, 2),  # [B, 128, 4, frames/16]
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),  # [B, 128]
        )

    def forward(self, x):
        return self.net(self.norm(log_mel(x.float(), self.rate)))


def _to_stored(clips: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(to_int16(clips)).unsqueeze(1)  # int16 [N, 1, T]


@register_modality
class AudioModality(Modality):
    name = "audio"
    DataConfig = AudioDataConfig
    unit = "clip"
    default_samples = 2000
    out_help = "a folder of .wav files, one .wav (clips joined by short silences) or .npz (audio float32 [N, T])"
    preview_suffix = ".wav"
    preview_media = "audio/wav"
    formats = ("json", "wav")
    extensions = EXTENSIONS
    preview_count = 10

    def load(self, cfg, run=None):
        return load_audio(cfg)

    def codec(self, run: Path) -> int:
        """The run's sample rate (from its config)."""
        return int(read_json(run / CONFIG)["data"]["sample_rate"])

    def report(self, data) -> dict:
        return audio_report(data)

    def format_report(self, rep: dict) -> str:
        return format_audio_report(rep)

    def to_model(self, stored):
        return stored.float() / 32768.0  # int16 -> float [-1, 1)

    def to_stored(self, out):
        return out.detach().float().clamp(-1, 1).mul(32767.0).round().to(torch.int16).cpu()

    def to_samples(self, stored, codec=None) -> Clips:
        return Clips((stored[:, 0].float() / 32768.0).numpy(), int(codec))

    def concat(self, parts):
        return Clips(np.concatenate([p.audio for p in parts]), parts[0].rate)

    def write(self, samples, out, labels=None, nrow=None, class_names=None) -> Path:
        """No suffix: a folder of NNN[_class].wav; `.wav`: the clips joined; `.npz`: audio, sample_rate, labels."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix == ".wav":
            atomic_write(out, wav_bytes(samples.joined(), samples.rate))
        elif suffix == ".npz":
            buf = io.BytesIO()
            extra = {"labels": np.asarray(labels)} if labels is not None else {}
            np.savez_compressed(buf, audio=samples.audio.astype(np.float32), sample_rate=samples.rate, **extra)
            atomic_write(out, buf.getvalue())
        elif suffix:
            raise RunError(f"--out {out}: an audio model writes {self.out_help}")
        else:
            out.mkdir(parents=True, exist_ok=True)
            width = len(str(len(samples) - 1))
            for i, clip in enumerate(samples.audio):
                name = f"{i:0{width}d}{file_tag(labels, i, class_names)}.wav"
                atomic_write(out / name, wav_bytes(clip, samples.rate))
        return out

    def read(self, path, data):
        """.npz with `audio` [N, T] (and `sample_rate`, `labels`) or a folder of audio files, fitted to the data's
        rate and length; errors name the file."""
        path = Path(path)
        rate, length = data.sample_rate, data.train.shape[1]
        labels = None
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.suffix.lower() in EXTENSIONS)
            if not files:
                raise DataError(f"{path}: no audio files ({', '.join(EXTENSIONS)})")
            clips = []
            for f in files:
                try:
                    clips.append(read_clip(f, rate, length, max_seconds=3600)[0])
                except DataError as e:
                    raise DataError(f"{f}: {e}") from None
            return _to_stored(np.stack(clips)), None
        if path.suffix.lower() != ".npz":
            raise DataError(f"{path}: expected {self.out_help}")
        try:
            with np.load(path, allow_pickle=False) as z:
                audio = np.asarray(z["audio"], dtype=np.float32)
                src_rate = int(z["sample_rate"]) if "sample_rate" in z else rate
                labels = torch.from_numpy(z["labels"].astype(np.int64)) if "labels" in z else None
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"{path}: expected an .npz with key 'audio' (float [N, T]) ({e})") from None
        if audio.ndim != 2 or not np.isfinite(audio).all():
            raise DataError(f"{path}: 'audio' must be finite float [N, T], got shape {audio.shape}")

        audio = resample(audio, src_rate, rate)
        return _to_stored(np.stack([fit_clip(a, rate, length) for a in audio])), labels

    def preview(self, samples, nrow=None, labels=None) -> bytes:
        """The first `preview_count` clips joined (a conditional run's previews hold one class each)."""
        return wav_bytes(samples[: self.preview_count].joined(), samples.rate)

    def html(self, samples, nrow=None, labels=None, caption="") -> str:
        """A table of clips, `nrow` a row: spectrogram, player and label for each."""
        nrow = nrow or 5
        cells = []
        for i, clip in enumerate(samples.audio):
            label = f"<br><small>{html.escape(str(labels[i]))}</small>" if labels else ""
            pic = img_tag(spectrogram_png(clip, samples.rate, width=128), "log-mel spectrogram")
            cells.append(
                f"<td style='text-align:center'>{pic}<br>{wav_player(wav_bytes(clip, samples.rate))}{label}</td>"
            )
        rows = "".join("<tr>" + "".join(cells[i : i + nrow]) + "</tr>" for i in range(0, len(cells), nrow))
        cap = f"<p>{html.escape(caption)}</p>" if caption else ""
        return f"{cap}<div style='overflow-x:auto'><table class='clips'>{rows}</table></div>"

    def preview_html(self, blob, caption):
        x, rate = sf.read(io.BytesIO(blob), dtype="float32")
        pic = img_tag(spectrogram_png(x, rate, height=64, width=480), caption)
        return f"<figure>{pic}<br>{wav_player(blob)}<figcaption>{html.escape(caption)}</figcaption></figure>"

    def data_figures(self, rep):
        # deferred: matplotlib is slow to import; only figures need it
        import matplotlib.pyplot as plt

        hists = [("loudness (dBFS RMS)", rep["loudness_dbfs"]["hist"])]
        if "seconds" in rep["source"]:
            hists.append(("file duration (s)", rep["source"]["seconds"]))
        fig, axes = plt.subplots(1, len(hists), figsize=(5 * len(hists), 2.8), squeeze=False)
        for ax, (title, h) in zip(axes[0], hists):
            ax.stairs(h["counts"], h["edges"], fill=True)
            ax.set_title(title)
        return img_tag(fig_png(fig), "audio histograms")

    def response(self, samples, fmt, nrow=None, labels=None):
        # deferred: only the server's answers need fastapi
        from fastapi.responses import JSONResponse, Response

        if fmt == "wav":
            return Response(wav_bytes(samples.joined(), samples.rate), media_type="audio/wav")
        clips = [base64.b64encode(wav_bytes(c, samples.rate)).decode() for c in samples.audio]
        return JSONResponse({"clips": clips, "sample_rate": samples.rate} | ({"labels": labels} if labels else {}))

    def from_upload(self, body: bytes, shape, codec=None) -> torch.Tensor:
        """An uploaded WAV/FLAC/OGG file -> stored [1, 1, T] at the model's rate and length."""
        try:
            x, _ = read_audio(io.BytesIO(body), int(codec))
        except RuntimeError as e:
            raise ValueError(f"not an audio file soundfile reads ({str(e).splitlines()[0][:100]})") from None
        if not len(x) or float(np.abs(x).max()) < SILENT_PEAK:
            raise ValueError("silent (peak below -60 dBFS): nothing to hear in it")
        return _to_stored(fit_clip(x, int(codec), shape[-1])[None])

    def backbone(self, data) -> nn.Module:
        return AudioBackbone(data.sample_rate)

    def augment(self, x, strength, gen):
        """Random time shift (up to 0.1 s * strength, zero filled), gain, and noise from strength 0.5."""
        b, _, t = x.shape
        r = lambda *s: torch.rand(*s, generator=gen).to(x.device)  # noqa: E731
        shift = ((r(b) * 2 - 1) * 0.1 * strength * t).long()
        idx = torch.arange(t, device=x.device)[None] - shift[:, None]  # [B, T] source positions
        out = x.gather(2, idx.clamp(0, t - 1).unsqueeze(1)) * ((idx >= 0) & (idx < t)).unsqueeze(1)
        out = out * (1 + (r(b, 1, 1) * 2 - 1) * 0.3 * strength)
        if strength >= 0.5:
            out = out + 0.01 * strength * torch.randn(x.shape, generator=gen).to(x.device)
        return out.clamp(-1, 1)

    def memo_vectors(self, stored, codec=None):
        """Log-mel spectrograms, flattened: a near copy sounds and looks the same in time and frequency.
        `codec` is the data's sample rate."""
        return torch.cat([log_mel(self.to_model(part), int(codec)).flatten(1) for part in stored.split(256)])

    def sanity_conditions(self, data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """name -> int16 'samples' [n', 1, T] with a known fault: noise at falling SNR, low-pass filtering at
        falling cut-offs (an FFT brick wall), the true magnitudes with Griffin-Lim's phase, one class,
        time-reversed clips, training clips."""
        g = torch.Generator().manual_seed(seed)
        test, train = data.tensor("test"), data.tensor("train")
        real = random_rows(test, n, g)
        x = self.to_model(real)  # [n, 1, T] in [-1, 1]
        out = {"real (floor)": real}
        power = x.pow(2).mean(-1, keepdim=True)
        for snr in (20, 10, 0):
            hiss = torch.randn(x.shape, generator=g) * (power / 10 ** (snr / 10)).sqrt()
            out[f"noise SNR {snr} dB"] = self.to_stored(x + hiss)
        spec = torch.fft.rfft(x)
        freqs = torch.fft.rfftfreq(x.shape[-1], 1 / data.sample_rate)
        for cut in (4000, 2000, 1000):
            out[f"low-pass {cut} Hz"] = self.to_stored(torch.fft.irfft(spec * (freqs <= cut), n=x.shape[-1]))
        # the phase that SpecGAN and the spectrogram VAE lose: exact magnitudes, Griffin-Lim's 32 iterations
        t, hop = x.shape[-1], square_hop(x.shape[-1], 128)  # SpecGAN's hop at n_fft 256
        rebuilt = [griffin_lim(stft(part, 256, hop).abs(), 256, hop, t) for part in x.split(64)]
        out["Griffin-Lim phase (32 iterations)"] = self.to_stored(torch.cat(rebuilt))
        if data.test_labels is not None and data.n_classes >= 2:
            out["one class (0)"] = random_rows(test[data.labels("test") == 0], n, g)
        out["time-reversed"] = real.flip(-1)
        out["training clips"] = random_rows(train, n, g)
        return out
