"""Audio sources and the in-memory AudioData: spoken digits synthesised offline with espeak-ng, and
folders of WAV/FLAC/OGG files (first-level subfolders as labels).

Every clip is brought to `data.sample_rate` (scipy's polyphase resampler), mono (channels averaged),
its leading silence trimmed, then cropped or zero-padded to `data.seconds`. Stored as int16
[N, 1, T] (T = seconds * sample_rate), the form of a 16-bit WAV file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import soundfile as sf
import torch

from ...data.base import (
    SplitData,
    find_source,
    register_source,
    split_source,
    subfolder_classes,
)
from ...data.report import histogram
from ...errors import DataError
from ...io import atomic_write
from .dsp import fit_length, read_audio, trim_leading_silence

EXTENSIONS = (".wav", ".flac", ".ogg")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak-ng's own English voices (no MBROLA data needed) and its voice variants; a speaker is one pair
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
VARIANTS = tuple(f"m{i}" for i in range(1, 8)) + tuple(f"f{i}" for i in range(1, 6)) + ("croak", "klatt", "klatt2")
SILENT_PEAK = 1e-3  # -60 dBFS: a clip whose peak stays below this holds nothing to learn
CLIPPED_SHARE = 0.01  # a clip with more samples than this at full scale counts as clipped


@dataclass
class RawAudio:
    """A source's clips before splitting: float32 [N, T] at the data's rate, labels, what was met."""

    name: str
    clips: np.ndarray
    labels: Optional[np.ndarray] = None
    class_names: Optional[list[str]] = None
    test: Optional[np.ndarray] = None  # a split of the source's own (spoken-digits: by speaker)
    own_split: Optional[str] = None  # what that split is, for messages and run records
    test_labels: Optional[np.ndarray] = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    ids: Optional[list[str]] = None
    test_ids: Optional[list[str]] = None
    speakers_in_ids: bool = False  # a voice source: each clip's id starts with its speaker (speaker/word/...)


@dataclass(kw_only=True)
class AudioData(SplitData):
    """A preprocessed audio data set: int16 clips [N, T] at `sample_rate`; the speaker of each clip where the
    source names it (voices)."""

    sample_rate: int
    train_speakers: Optional[list[str]] = None
    test_speakers: Optional[list[str]] = None
    modality = "audio"

    @property
    def codec(self) -> int:
        """What turns stored clips into playable ones: the sample rate."""
        return self.sample_rate

    @property
    def shape(self) -> tuple[int, int]:
        """(channels, samples) of every clip."""
        return 1, self.train.shape[1]

    def tensor(self, split: str = "train", device="cpu") -> torch.Tensor:
        """The split as int16 [N, 1, T]."""
        return torch.from_numpy(self.train if split == "train" else self.test).unsqueeze(1).to(device)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16)


def fit_clip(x: np.ndarray, rate: int, length: int) -> np.ndarray:
    """A mono clip [T'] at `rate` -> [length]: clipped to [-1, 1], leading silence trimmed, cropped or padded."""
    return fit_length(trim_leading_silence(np.clip(x, -1, 1), rate), length)


# ---------------------------------------------------------------- spoken digits (espeak-ng)


def _speak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    return subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout


def synthesize_digits(n: int, rate: int, length: int, test_fraction: float, seed: int) -> RawAudio:
    """n clips of the words zero..nine, each by a speaker (accent + variant) at a random speed and pitch;
    the test split holds whole speakers the training split never hears."""
    if shutil.which("espeak-ng") is None:
        raise DataError(
            "spoken-digits is synthesised with espeak-ng, which is not installed: apt-get install espeak-ng "
            "(`make data` does it), or point --data at a folder of audio files"
        )
    rng = np.random.default_rng(seed)
    speakers = [f"{a}+{v}" for a in ACCENTS for v in VARIANTS]
    rng.shuffle(speakers)
    n_test = max(1, int(round(len(speakers) * test_fraction)))
    test_speakers = set(speakers[:n_test])
    jobs = [
        (
            DIGITS[i % 10],
            speakers[int(rng.integers(len(speakers)))],
            int(rng.integers(120, 221)),
            int(rng.integers(20, 81)),
        )
        for i in range(n)
    ]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        wavs = list(pool.map(lambda j: _speak(*j), jobs))
    clips = np.stack([fit_clip(read_audio(io.BytesIO(w), rate)[0], rate, length) for w in wavs]).astype(np.float32)
    labels = np.array([i % 10 for i in range(n)], dtype=np.int64)
    is_test = np.array([j[1] in test_speakers for j in jobs])
    names = [f"{v}/{w}/s{s}/p{p}" for w, v, s, p in jobs]  # speaker/word/speed/pitch: a voice source's ids
    return RawAudio(
        name="spoken-digits",
        clips=clips[~is_test],
        labels=labels[~is_test],
        class_names=list(DIGITS),
        test=clips[is_test],
        test_labels=labels[is_test],
        own_split="by speaker (test speakers are unseen in training)",
        summary={"speakers": len(speakers), "test_speakers": n_test, "synthesiser": "espeak-ng"},
        ids=[name for name, t in zip(names, is_test) if not t],
        test_ids=[name for name, t in zip(names, is_test) if t],
        speakers_in_ids=True,
    )


def cache_root() -> Path:
    return Path(os.environ.get("GENFORGE_CACHE", Path.home() / ".cache" / "genforge")) / "audio"


@register_source(
    "spoken-digits",
    lambda s: s == "spoken-digits",
    "the words zero..nine by 120 espeak-ng speakers (built once, cached), split by speaker",
    modality="audio",
    licence="made offline by genforge with espeak-ng (GPL-3.0-or-later), a speech synthesiser",
)
def load_spoken_digits(spec, cfg) -> RawAudio:
    length = int(round(cfg.seconds * cfg.sample_rate))
    recipe = {
        "n": cfg.clips,
        "rate": cfg.sample_rate,
        "length": length,
        "test": cfg.test_fraction,
        "seed": cfg.split_seed,
    }
    return cached_raw_audio(
        "spoken-digits",
        recipe,
        lambda: synthesize_digits(cfg.clips, cfg.sample_rate, length, cfg.test_fraction, cfg.split_seed),
    )


def first_part(clip_id: str) -> str:
    """The speaker of a voice source's clip: the first part of its id (speaker/word/...)."""
    return clip_id.split("/", 1)[0]


def cached_raw_audio(name: str, recipe: dict, build: Callable[[], RawAudio]) -> RawAudio:
    """A synthesised source's clips (with its own split) from the cache, an int16 .npz keyed by `recipe`;
    `build()` makes them the first time."""
    key = hashlib.sha256(json.dumps(recipe | {"format": 5}, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_root() / f"{name}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))  # summary, class and clip names
            return RawAudio(
                name=name,
                clips=z["train"].astype(np.float32) / 32767.0,
                labels=z["train_labels"],
                class_names=meta["class_names"],
                test=z["test"].astype(np.float32) / 32767.0,
                test_labels=z["test_labels"],
                own_split=meta["own_split"],
                summary=meta["summary"],
                ids=meta["ids"],
                test_ids=meta["test_ids"],
                speakers_in_ids=meta["speakers_in_ids"],
            )
    raw = build()
    buf = io.BytesIO()
    meta = {"summary": raw.summary, "class_names": raw.class_names, "ids": raw.ids, "test_ids": raw.test_ids}
    meta |= {"own_split": raw.own_split, "speakers_in_ids": raw.speakers_in_ids}
    np.savez(
        buf,
        train=to_int16(raw.clips),
        train_labels=raw.labels,
        test=to_int16(raw.test),
        test_labels=raw.test_labels,
        meta=np.array(json.dumps(meta)),
    )
    atomic_write(path, buf.getvalue())
    return raw


# ---------------------------------------------------------------- folders of audio files


def two_deep(root: Path) -> bool:
    """Whether a folder's audio files all sit two folders deep (<speaker>/<word>/file: a voice folder)."""
    files = [f.relative_to(root) for f in root.rglob("*") if f.suffix.lower() in EXTENSIONS]
    return bool(files) and all(len(f.parts) == 3 for f in files)


def _is_audio_folder(spec: str) -> bool:
    p = Path(spec)
    return p.is_dir() and any(f.suffix.lower() in EXTENSIONS for f in p.rglob("*")) and not two_deep(p)


def read_clip(path: Path, rate: int, length: int, max_seconds: float):
    """One file -> (float32 [length], its soundfile info); raises DataError with the reason it cannot be used."""
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError) as e:
        raise DataError(f"not a readable audio file ({str(e).splitlines()[0][:120]})") from None
    if info.frames == 0:
        raise DataError("empty (0 samples)")
    if info.duration > max_seconds:
        raise DataError(f"{info.duration:.1f} s long; data.max_seconds is {max_seconds:g}")
    try:
        x, _ = read_audio(str(path), rate)
    except (RuntimeError, OSError, ValueError) as e:
        raise DataError(f"cannot be decoded ({str(e).splitlines()[0][:120]})") from None
    if not np.isfinite(x).all():
        raise DataError("holds NaN or infinite samples")
    if float(np.abs(x).max()) < SILENT_PEAK:
        raise DataError("silent (peak below -60 dBFS)")
    return fit_clip(x, rate, length), info


def read_files(files: list[Path], cfg) -> tuple[list[np.ndarray], list[int], list[tuple[str, str]], list]:
    """Each file -> a clip at the data's rate and length (`read_clip`); an unusable one is named with the reason
    and skipped (data.strict: an error). Returns (clips, the positions of the files read, problems, their
    soundfile infos)."""
    length = int(round(cfg.seconds * cfg.sample_rate))
    clips, kept, problems, infos = [], [], [], []
    for k, f in enumerate(files):
        try:
            clip, info = read_clip(f, cfg.sample_rate, length, cfg.max_seconds)
        except DataError as e:
            if cfg.strict:
                raise DataError(f"{f}: {e}; fix or remove it, or drop --set data.strict=true to skip it") from None
            problems.append((str(f), str(e)))
            continue
        clips.append(clip)
        kept.append(k)
        infos.append(info)
    return clips, kept, problems, infos


@register_source(
    "audio-folder",
    _is_audio_folder,
    "a folder of WAV/FLAC/OGG files, first-level subfolders as labels (two levels: voice-folder)",
    modality="audio",
)
def load_audio_folder(spec, cfg) -> RawAudio:
    root = Path(spec)
    files = sorted(f for f in root.rglob("*") if f.suffix.lower() in EXTENSIONS)
    rel = [f.relative_to(root) for f in files]
    names = subfolder_classes(rel)
    clips, kept, problems, infos = read_files(files, cfg)
    rates: dict[str, int] = {}
    for info in infos:
        rates[str(info.samplerate)] = rates.get(str(info.samplerate), 0) + 1
    ids = [str(rel[k]) for k in kept]
    labels = [names.index(rel[k].parts[0]) for k in kept] if names is not None else []
    durations = [info.duration for info in infos]
    if not clips:
        detail = f"; the first problem: {problems[0][0]}: {problems[0][1]}" if problems else ""
        raise DataError(f"{root}: no usable audio files among {len(files)}{detail}")
    return RawAudio(
        name=root.name,
        clips=np.stack(clips).astype(np.float32),
        labels=np.array(labels, dtype=np.int64) if names is not None else None,
        class_names=names,
        problems=problems,
        summary={"files": len(files), "sample_rates": rates, "seconds": histogram(np.array(durations))},
        ids=ids,
    )


# ---------------------------------------------------------------- preprocessing


def preprocess_audio(raw: RawAudio, cfg) -> AudioData:
    """Split (the source's own, or seeded), apply `limit`, convert to int16, fingerprint; the speakers of a voice
    source's clips."""
    parts = split_source(raw.clips, raw.labels, raw.ids, cfg, "clip", raw.test, raw.test_labels, raw.own_split)
    parts.train, parts.test = to_int16(parts.train), to_int16(parts.test)
    who = {}
    if raw.speakers_in_ids and raw.test_ids is not None:
        who = {"train_speakers": [first_part(i) for i in parts.train_ids],
               "test_speakers": [first_part(i) for i in raw.test_ids]}  # fmt: skip
    prep = {"rate": cfg.sample_rate, "seconds": cfg.seconds}
    return AudioData.build(raw, parts, prep, sample_rate=cfg.sample_rate, **who)


def load_audio(cfg) -> AudioData:
    """Read `cfg.source` with the audio source that recognises it, split a voice source by data.split_by, then
    preprocess."""
    raw = find_source(cfg.source, "audio").load(cfg.source, cfg)
    return preprocess_audio(split_voices(raw, cfg) if raw.speakers_in_ids else raw, cfg)


def split_voices(raw: RawAudio, cfg) -> RawAudio:
    """`raw` (whose ids start with their speaker) split by speaker (unseen voices) or by utterance (seen voices,
    unseen clips), seeded by data.split_seed; a source's own speaker split (spoken-digits) is kept."""
    if cfg.split_by == "speaker" and raw.test is not None:
        return raw
    clips = raw.clips if raw.test is None else np.concatenate([raw.clips, raw.test])
    labels = raw.labels if raw.test is None or raw.labels is None else np.concatenate([raw.labels, raw.test_labels])
    ids = list(raw.ids) + list(raw.test_ids or [])
    speakers = np.array([first_part(i) for i in ids])
    names = sorted(set(speakers))
    rng = np.random.default_rng(cfg.split_seed)
    if cfg.split_by == "speaker":
        if len(names) < 2:
            raise DataError(f"{raw.name}: one speaker ({names[0]}); a split by speaker needs two or more")
        order = rng.permutation(names)
        n_test = min(len(names) - 1, max(1, int(round(len(names) * cfg.test_fraction))))
        is_test = np.isin(speakers, order[:n_test])
        how = f"by speaker: {n_test} of {len(names)} speakers held out ({', '.join(sorted(order[:n_test]))})"
    else:
        is_test = np.zeros(len(ids), bool)
        for s in names:  # each speaker keeps at least one clip for training
            mine = rng.permutation(np.flatnonzero(speakers == s))
            is_test[mine[: min(len(mine) - 1, int(round(len(mine) * cfg.test_fraction)))]] = True
        how = f"by utterance: held-out clips of the {len(names)} training speakers"
    pick = lambda a, m: None if a is None else a[m]  # noqa: E731
    raw.clips, raw.test = clips[~is_test], clips[is_test]
    raw.labels, raw.test_labels = pick(labels, ~is_test), pick(labels, is_test)
    raw.ids = [i for i, t in zip(ids, is_test) if not t]
    raw.test_ids = [i for i, t in zip(ids, is_test) if t]
    raw.own_split = how
    return raw
