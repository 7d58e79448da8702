"""Melodies as event sequences (MusicVAE's monophonic encoding), windows of N bars, the split, MusicData.

Stored form: int64 event ids [N, L], L = 16 * bars + 1: one event a 16th-note step, then EOS. Events:
HOLD (nothing new: the sounding note or the rest goes on), OFF (the note ends), NOTE_ON(p) for MIDI pitches
21..108 (the piano's range). PAD, UNK, BOS and EOS keep the ids the text families know, so the sentence
networks serve melodies as they are.

Windows: `data.bars` bars of 16 steps (4/4 bars; a 3/4 melody's window spans more of its own bars), starting
on the melody's bar lines every `data.hop` of its bars. A note sounding into a window's start is left out (the
window opens on a rest); a window with a rest longer than one bar (16 steps, the leading rest included) or a
pitch outside 21..108 is dropped and counted (MusicVAE's filter). The split is by piece: the voices and
windows of one piece are all training or all held-out. `data.transpose=[lo, hi]` adds training copies
transposed by every semitone shift in that range that stays in the pitch range.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ...data.base import Parts, SplitData, find_source, split_items
from ...errors import DataError
from ..text.textset import EOS, PAD
from .sources import Melody, RawMusic, midi_melodies

HOLD, OFF, NOTE0 = 4, 5, 6
LOW, HIGH = 21, 108
VOCAB = NOTE0 + HIGH - LOW + 1
STEPS_PER_BAR = 16
CODEC_FILE = "music.json"


@dataclass(frozen=True)
class MelodyCodec:
    """Turns event rows into notes and MIDI files: the grid, the tempo and the General MIDI program."""

    bars: int = 2
    qpm: float = 120.0  # quarter notes a minute when written as MIDI or rendered
    program: int = 0  # General MIDI program (0: acoustic grand piano)

    @property
    def steps(self) -> int:
        return self.bars * STEPS_PER_BAR

    @property
    def step_seconds(self) -> float:
        return 60.0 / self.qpm / 4

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, blob: bytes) -> "MelodyCodec":
        return cls(**json.loads(blob))

    def to_notes(self, events) -> np.ndarray:
        """One event row -> notes int32 [n, 3] (start step, end step, pitch); stops at EOS or PAD."""
        notes, cur = [], None
        t = 0
        for t, e in enumerate(list(events)[: self.steps]):
            e = int(e)
            if e in (EOS, PAD):
                break
            if e == OFF or e >= NOTE0:
                if cur is not None:
                    notes.append((cur[0], t, cur[1]))
                cur = (t, e - NOTE0 + LOW) if e >= NOTE0 else None
        else:
            t = min(len(events), self.steps)
        if cur is not None and t > cur[0]:
            notes.append((cur[0], t, cur[1]))
        return np.array(notes, np.int32).reshape(-1, 3)

    def to_events(self, notes: np.ndarray) -> np.ndarray:
        """Notes [n, 3] inside 0..steps (monophonic, pitches in range) -> one event row [steps + 1]."""
        row = np.full(self.steps + 1, HOLD, np.int64)
        row[-1] = EOS
        for s, e, p in notes:
            row[s] = NOTE0 + p - LOW
            if e < self.steps and row[e] == HOLD:
                row[e] = OFF
        return row

    def to_midi(self, notes: np.ndarray, velocity: int = 90):
        """Notes -> a pretty_midi.PrettyMIDI at the codec's tempo, in 4/4, one instrument."""
        # deferred: only writing MIDI needs pretty_midi
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(initial_tempo=self.qpm)
        pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
        inst = pretty_midi.Instrument(program=self.program)
        dt = self.step_seconds
        inst.notes = [pretty_midi.Note(velocity, int(p), s * dt, e * dt) for s, e, p in notes]
        pm.instruments.append(inst)
        return pm


def midi_melody(blob: bytes, codec: MelodyCodec) -> np.ndarray:
    """The first melody of a MIDI file's bytes from the bar line before its first note, cut to the codec's
    steps (an upload, a file to interpolate from); ValueError with the reason when there is none in range."""
    m = midi_melodies(io.BytesIO(blob), None)[0]
    start = m.first_bar + (int(m.notes[0, 0]) - m.first_bar) // m.bar_steps * m.bar_steps
    n = m.notes[(m.notes[:, 0] >= start) & (m.notes[:, 0] < start + codec.steps)] - np.array([start, start, 0])
    n[:, 1] = np.minimum(n[:, 1], codec.steps)
    if n[:, 2].min() < LOW or n[:, 2].max() > HIGH:
        raise ValueError(f"pitches {n[:, 2].min()}..{n[:, 2].max()} leave the piano's range {LOW}..{HIGH}")
    return n.astype(np.int32)


def windows(m: Melody, bars: int, hop: int, counts: dict) -> list[np.ndarray]:
    """The windows of a melody as notes relative to each window's start (see the module docstring)."""
    size, out = bars * STEPS_PER_BAR, []
    last = int(m.notes[:, 1].max()) if len(m.notes) else 0
    for s in range(m.first_bar, max(m.first_bar, last - STEPS_PER_BAR) + 1, hop * m.bar_steps):
        inside = m.notes[(m.notes[:, 0] >= s) & (m.notes[:, 0] < s + size)].copy()
        inside[:, :2] -= s
        inside[:, 1] = np.minimum(inside[:, 1], size)
        if len(inside) == 0:
            continue
        rests = np.r_[inside[0, 0], inside[1:, 0] - inside[:-1, 1], size - inside[-1, 1]]  # before, between, after
        if rests.max() > STEPS_PER_BAR:
            counts["long_rest"] = counts.get("long_rest", 0) + 1
        elif inside[:, 2].min() < LOW or inside[:, 2].max() > HIGH:
            counts["out_of_range"] = counts.get("out_of_range", 0) + 1
        else:
            out.append(inside)
    return out


@dataclass(kw_only=True)
class MusicData(SplitData):
    """Event arrays int64 [N, L], the windows' notes, and the codec."""

    codec: MelodyCodec
    modality = "music"

    @property
    def vocab_size(self) -> int:
        return VOCAB

    @property
    def shape(self) -> tuple[int, int]:
        """(vocabulary, events per sample): the one-hot layout models see."""
        return VOCAB, self.train.shape[1]

    def tensor(self, split: str = "train", device="cpu") -> torch.Tensor:
        return torch.from_numpy(self.train if split == "train" else self.test).to(device)


def transposed(notes: np.ndarray, lo: int, hi: int) -> list[np.ndarray]:
    """Copies of notes shifted by each semitone in lo..hi (0 excluded) that stay inside LOW..HIGH."""
    out = []
    for k in range(lo, hi + 1):
        if k and LOW <= notes[:, 2].min() + k and notes[:, 2].max() + k <= HIGH:
            out.append(notes + np.array([0, 0, k], np.int32))
    return out


def preprocess_music(raw: RawMusic, cfg, codec: Optional[MelodyCodec] = None) -> MusicData:
    """Split by piece, cut windows, encode events, add transposed training copies."""
    codec = codec or MelodyCodec(bars=cfg.bars, qpm=cfg.qpm, program=cfg.program)
    pieces = sorted({m.piece for m in raw.melodies})
    tr, te, split = split_items(len(pieces), None, cfg, "piece")
    test_pieces = {pieces[i] for i in te}
    counts: dict = {}
    names = raw.class_names
    parts: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    for m in raw.melodies:
        side = "test" if m.piece in test_pieces else "train"
        for w in windows(m, codec.bars, cfg.hop, counts):
            parts[side][0].append(w)
            parts[side][1].append(names.index(m.label) if names else -1)
    train_notes, train_y = parts["train"]
    if cfg.limit is not None:
        train_notes, train_y = train_notes[: cfg.limit], train_y[: cfg.limit]
    if cfg.transpose != (0, 0):
        shifted = [(t, y) for w, y in zip(train_notes, train_y) for t in transposed(w, *cfg.transpose)]
        train_notes, train_y = train_notes + [t for t, _ in shifted], train_y + [y for _, y in shifted]
    for side, notes in (("training", train_notes), ("test", parts["test"][0])):
        if not notes:
            raise DataError(
                f"{cfg.source}: no {codec.bars}-bar window of the {side} split passes the filter "
                f"({counts.get('long_rest', 0)} with a rest over a bar, {counts.get('out_of_range', 0)} out of "
                f"pitch range); try fewer data.bars or more pieces"
            )
    train = np.stack([codec.to_events(w) for w in train_notes])
    test = np.stack([codec.to_events(w) for w in parts["test"][0]])
    train_y = np.array(train_y, np.int64) if names else None
    test_y = np.array(parts["test"][1], np.int64) if names else None
    summary = dict(raw.summary) | {"melodies": len(raw.melodies), "pieces": len(pieces), "dropped_windows": counts}
    prep = {"bars": cfg.bars, "hop": cfg.hop, "transpose": list(cfg.transpose)}
    parts = Parts(train, test, train_y, test_y, None, split, cfg.limit)
    return MusicData.build(raw, parts, prep, [train, test, train_y, test_y], summary=summary, codec=codec)


def load_music(cfg, run: Optional[Path] = None) -> MusicData:
    """Read `cfg.source` with the music source that recognises it, then preprocess; a run's own codec
    (RUN/music.json: bars, tempo, program) is reused so its events mean what they meant in training."""
    raw = find_source(cfg.source, "music").load(cfg.source, cfg)
    codec = None
    if run is not None and (Path(run) / CODEC_FILE).is_file():
        codec = MelodyCodec.from_json((Path(run) / CODEC_FILE).read_bytes())
    return preprocess_music(raw, cfg, codec)
