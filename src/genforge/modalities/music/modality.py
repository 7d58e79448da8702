"""Music: melodies as event ids [N, L] stored (MusicVAE's encoding, musicset.py); users get notes
(int32 [n, 3]: start step, end step, MIDI pitch, on a 16th grid), written as MIDI, rendered WAV, piano rolls."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import torch
from pydantic import Field
from torch import nn

from ...config import BaseDataConfig
from ...errors import DataError, RunError
from ...io import atomic_write, grid_png, img_tag
from ..audio.dsp import wav_bytes
from ..audio.modality import wav_player
from ..base import Modality, class_labels, file_tag, random_rows, register_modality
from ..text.modality import TextBackbone
from .midi import RENDER_RATE, joined, midi_bytes, piano_roll, render
from .musicset import (
    CODEC_FILE,
    HIGH,
    HOLD,
    LOW,
    NOTE0,
    STEPS_PER_BAR,
    VOCAB,
    MelodyCodec,
    load_music,
    midi_melody,
)
from .stats import format_music_report, music_report

MEMO_FEATURES = 2**12  # hashed event 4-grams
PLAYED, PAGE_RATE = 8, 11025  # a report's player: the first melodies, rendered at a rate that keeps pages small


class MusicDataConfig(BaseDataConfig):
    """Melodies: windows of `bars` bars from pieces of a corpus or a folder of files."""

    source: str = Field(
        "bach-chorales", description="`bach-chorales`, `folk-songs`, or a folder of MIDI / MusicXML / ABC files"
    )
    bars: int = Field(2, ge=1, le=16, description="bars (of 16 sixteenths) a melody window holds")
    hop: int = Field(1, ge=1, description="a new window starts every `hop` bars of the piece")
    transpose: tuple[int, int] = Field(
        (0, 0), description="training copies transposed by every semitone in [lo, hi], e.g. [-6, 5]"
    )
    collections: tuple[str, ...] = Field(
        ("han1", "han2"), description="folk-songs: Essen collections, each a label (han1, han2: Chinese Han)"
    )
    qpm: float = Field(120.0, gt=0, le=400, description="tempo (quarter notes a minute) of written and rendered MIDI")
    program: int = Field(0, ge=0, le=127, description="General MIDI program of written and rendered MIDI (0: piano)")


class Melodies(list):
    """Melodies as users get them, notes int32 [n, 3] each, with the codec that writes and plays them
    (bars, tempo, General MIDI program)."""

    def __init__(self, items, codec: MelodyCodec):
        super().__init__(items)
        self.codec = codec


def codec_of(samples) -> MelodyCodec:
    """The codec melodies came with, or one spanning them at the default tempo and program."""
    if isinstance(samples, Melodies):
        return samples.codec
    return MelodyCodec(bars=max(1, steps_of(samples) // STEPS_PER_BAR))


def _events(notes_list, codec: MelodyCodec) -> torch.Tensor:
    return torch.from_numpy(np.stack([codec.to_events(n) for n in notes_list])) if notes_list else torch.zeros(0)


@register_modality
class MusicModality(Modality):
    name = "music"
    DataConfig = MusicDataConfig
    unit = "melody"
    units = "melodies"
    default_samples = 2000
    out_help = (
        ".mid (melodies a bar apart), .wav (rendered with FluidSynth), .png (piano rolls), .json (notes) "
        "or a folder (one .mid each)"
    )
    preview_suffix = ".png"
    preview_media = "image/png"
    formats = ("png", "mid", "wav", "json")
    preview_count = 16

    def load(self, cfg, run=None):
        return load_music(cfg, run)

    def save_codec(self, codec, folder: Path) -> None:
        atomic_write(Path(folder) / CODEC_FILE, codec.to_json())

    def codec(self, run: Path):
        path = Path(run) / CODEC_FILE
        if not path.is_file():
            raise RunError(f"{path} is missing: a music run keeps its bars, tempo and program there")
        return MelodyCodec.from_json(path.read_bytes())

    def report(self, data) -> dict:
        return music_report(data)

    def format_report(self, rep: dict) -> str:
        return format_music_report(rep)

    def to_model(self, stored):
        return stored.long()

    def to_stored(self, out):
        return out.detach().long().cpu()

    def to_samples(self, stored, codec=None) -> "Melodies":
        codec = codec or MelodyCodec(bars=(stored.shape[1] - 1) // STEPS_PER_BAR)
        return Melodies([codec.to_notes(row) for row in stored.tolist()], codec)

    def concat(self, parts: list):
        return Melodies([m for p in parts for m in p], parts[0].codec)

    def write(self, samples, out, labels=None, nrow=None, class_names=None) -> Path:
        """`.mid`: one MIDI file, the melodies a bar apart; `.wav`: that file rendered; `.png`: piano rolls;
        `.json`: {"notes", "label"} a melody; a folder: one .mid a melody (sample_0000_class.mid)."""
        out, codec = Path(out), codec_of(samples)
        suffix = out.suffix.lower()
        if suffix == ".mid":
            atomic_write(out, midi_bytes(joined(samples, codec), codec))
        elif suffix == ".wav":
            atomic_write(out, wav_bytes(render(joined(samples, codec), codec), RENDER_RATE))
        elif suffix == ".png":
            atomic_write(out, self.preview(samples, nrow))
        elif suffix == ".json":
            names = class_labels(labels, class_names)
            rows = [{"notes": m.tolist()} | ({"label": names[i]} if names else {}) for i, m in enumerate(samples)]
            atomic_write(out, json.dumps({"steps_per_bar": STEPS_PER_BAR, "melodies": rows}).encode())
        elif suffix == "":
            out.mkdir(parents=True, exist_ok=True)
            for i, m in enumerate(samples):
                atomic_write(out / f"sample_{i:04d}{file_tag(labels, i, class_names)}.mid", midi_bytes(m, codec))
        else:
            raise RunError(f"--out {out}: a music model writes {self.out_help}")
        return out

    def read(self, path, data):
        """A .json written by `write`, or a folder of .mid files (each file's first window): stored events."""
        path, labels = Path(path), None
        if path.is_dir():
            files = sorted(path.glob("*.mid"))
            if not files:
                raise DataError(f"{path}: no .mid files in it")
            notes = [self._first_window(f.read_bytes(), data.codec, f) for f in files]
        elif path.suffix.lower() == ".json":
            try:
                rows = json.loads(path.read_text())["melodies"]
                notes = [np.array(r["notes"], np.int32).reshape(-1, 3) for r in rows]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise DataError(
                    f"{path}: expected {{'melodies': [{{'notes': [[start, end, pitch], ...]}}]}} ({e})"
                ) from None
            if rows and all("label" in r for r in rows) and data.class_names:
                try:
                    labels = torch.tensor([data.class_names.index(str(r["label"])) for r in rows])
                except ValueError:
                    raise DataError(f"{path}: labels must be class names ({', '.join(data.class_names)})") from None
            for i, n in enumerate(notes):
                if len(n) and (n[:, 2].min() < LOW or n[:, 2].max() > HIGH or n[:, 1].max() > data.codec.steps):
                    raise DataError(f"{path}: melody {i + 1} leaves pitches {LOW}..{HIGH} or {data.codec.steps} steps")
        else:
            raise DataError(f"{path}: expected a .json of melodies or a folder of .mid files")
        return _events(notes, data.codec), labels

    def _first_window(self, blob: bytes, codec: MelodyCodec, where) -> np.ndarray:
        try:
            return midi_melody(blob, codec)
        except ValueError as e:
            raise DataError(f"{where}: {e}") from None

    def preview(self, samples, nrow=None, labels=None) -> bytes:
        steps = codec_of(samples).steps
        return grid_png(np.stack([piano_roll(m, steps) for m in samples]), nrow or 4)

    def html(self, samples, nrow=None, labels=None, caption="") -> str:
        cap = f"<p>{html.escape(caption)}</p>" if caption else ""
        roll = img_tag(self.preview(samples, nrow), "piano rolls")
        try:
            codec = codec_of(samples)
            wav = wav_bytes(render(joined(samples[:PLAYED], codec), codec, PAGE_RATE), PAGE_RATE)
            player = f"<br>{wav_player(wav)} (the first {min(PLAYED, len(samples))}, a bar apart)"
        except RunError as e:  # no synthesiser here: the rolls alone, and why
            player = f"<p>({html.escape(str(e))})</p>"
        names = f"<p>{html.escape(', '.join(labels))}</p>" if labels else ""
        return f"{cap}{roll}{player}{names}"

    def preview_html(self, blob, caption):
        return f"<p>{html.escape(caption)}:</p>" + img_tag(blob, caption)

    def response(self, samples, fmt, nrow=None, labels=None):
        # deferred: only the server's answers need fastapi
        from fastapi.responses import JSONResponse, Response

        codec = codec_of(samples)
        if fmt == "mid":
            return Response(midi_bytes(joined(samples, codec), codec), media_type="audio/midi")
        if fmt == "wav":
            return Response(wav_bytes(render(joined(samples, codec), codec), RENDER_RATE), media_type="audio/wav")
        if fmt == "json":
            return JSONResponse({"melodies": [m.tolist() for m in samples]} | ({"labels": labels} if labels else {}))
        return Response(self.preview(samples, nrow), media_type="image/png")

    def from_upload(self, body: bytes, shape, codec=None) -> torch.Tensor:
        codec = codec or MelodyCodec(bars=(shape[1] - 1) // STEPS_PER_BAR)
        return _events([midi_melody(body, codec)], codec)

    def backbone(self, data) -> nn.Module:
        return TextBackbone(VOCAB)

    def augment(self, x, strength, gen):
        """Transposition by up to 6 * strength semitones a melody (pitches kept in range), and note-ons
        turned into holds with probability 0.1 * strength."""
        k = int(round(6 * strength))
        shift = torch.randint(-k, k + 1, (len(x), 1), generator=gen).to(x.device)
        notes = x >= NOTE0
        x = torch.where(notes, (x + shift).clamp(NOTE0, VOCAB - 1), x)
        drop = (torch.rand(x.shape, generator=gen) < 0.1 * strength).to(x.device) & notes
        return x.masked_fill(drop, HOLD)

    def memo_vectors(self, stored, codec=None):
        """Unit vectors of hashed event 4-grams (pitch and rhythm together): L2 distance is a monotone map of
        the cosine similarity of two melodies' 4-gram counts."""
        x = stored.long()
        grams = x[:, :-3] * VOCAB**3 + x[:, 1:-2] * VOCAB**2 + x[:, 2:-1] * VOCAB + x[:, 3:]  # [N, L - 3]
        idx = (grams * 2654435761) % MEMO_FEATURES
        vec = torch.zeros(len(x), MEMO_FEATURES).scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float))
        return nn.functional.normalize(vec, dim=1)

    def sanity_conditions(self, data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """name -> event 'samples' with a known fault: shuffled pitches (rhythm kept), random pitches in the
        data's range, one melody repeated, transposed two octaves up (clipped to the range), training melodies."""
        gen = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        real = random_rows(data.tensor("test"), n, gen)
        notes = self.to_samples(real, data.codec)
        train_notes = self.to_samples(data.tensor("train")[:5000], data.codec)
        lo, hi = np.percentile(np.concatenate([m[:, 2] for m in train_notes]), [1, 99]).astype(int)

        def with_pitches(fn):
            return _events([np.c_[m[:, :2], fn(m[:, 2])].astype(np.int32) for m in notes], data.codec)

        out = {
            "real (floor)": real,
            "shuffled notes": with_pitches(rng.permutation),
            "random pitches in range": with_pitches(lambda p: rng.integers(lo, hi + 1, len(p))),
            "one melody repeated": real[:1].repeat(len(real), 1),
            "two octaves up": with_pitches(lambda p: np.minimum(p + 24, HIGH)),
            "training melodies": random_rows(data.tensor("train"), n, gen),
        }
        if data.test_labels is not None and data.n_classes >= 2:
            out["one class only"] = random_rows(data.tensor("test")[torch.from_numpy(data.test_labels) == 0], n, gen)
        return out


def steps_of(samples) -> int:
    """Grid steps a list of melodies spans (at least one bar, whole bars)."""
    last = max((int(m[:, 1].max()) for m in samples if len(m)), default=STEPS_PER_BAR)
    return -(-last // STEPS_PER_BAR) * STEPS_PER_BAR
