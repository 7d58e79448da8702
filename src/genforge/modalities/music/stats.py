"""Musical statistics of melodies (notes int32 [n, 3] on a 16th grid): what `data inspect` reports of a
music data set and what the `music_stats` figures compare between samples and held-out melodies.

Key: Krumhansl-Schmuckler, the duration-weighted pitch-class histogram correlated with the 24 rotated
Krumhansl-Kessler profiles; "in key" is the share of notes on that key's scale (major, or natural minor
with the raised 7th, harmonic minor's leading tone, as melodies in minor use it).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ...data.report import (
    duplicate_report,
    format_classes,
    format_duplicates,
    format_problems,
    histogram,
    shared_report,
)
from .musicset import STEPS_PER_BAR

MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10, 11]}
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
REPORT_MELODIES = 3000  # the statistics of `data inspect` are of this many training melodies, drawn seeded
INTERVALS = 12  # interval histograms hold -12..12 semitones (wider leaps on the edges)


def pitch_classes(m: np.ndarray) -> np.ndarray:
    """Duration-weighted pitch-class histogram [12] of one melody (sums to 1; zeros for no notes)."""
    h = np.bincount(m[:, 2] % 12, weights=m[:, 1] - m[:, 0], minlength=12).astype(np.float64)
    return h / max(h.sum(), 1e-9)


def _z(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(-1, keepdims=True)) / (a.std(-1, keepdims=True) + 1e-12)


# the 24 key profiles [24, 12], standardised: a correlation is then a dot product / 12
PROFILES = _z(np.stack([np.roll(p, k) for p in (MAJOR, MINOR) for k in range(12)]))


def estimate_key(m: np.ndarray) -> tuple[int, str]:
    """(tonic pitch class, "major" or "minor") of one melody."""
    best = int(np.argmax(PROFILES @ _z(pitch_classes(m))))
    return best % 12, "major" if best < 12 else "minor"


def in_key(m: np.ndarray) -> float:
    """Share of notes on the estimated key's scale."""
    if len(m) == 0:
        return 0.0
    tonic, mode = estimate_key(m)
    return float(np.isin((m[:, 2] - tonic) % 12, SCALES[mode]).mean())


def repetition(m: np.ndarray, steps: int) -> float:
    """Share of bars (with a note) that repeat an earlier bar of the melody exactly (onsets, lengths, pitches)."""
    bars = [
        tuple(map(tuple, m[(m[:, 0] >= b) & (m[:, 0] < b + STEPS_PER_BAR)] - [b, b, 0]))
        for b in range(0, steps, STEPS_PER_BAR)
    ]
    bars = [b for b in bars if b]
    return sum(b in bars[:i] for i, b in enumerate(bars)) / max(len(bars), 1)


def per_melody(melodies: list[np.ndarray], steps: int) -> dict[str, np.ndarray]:
    """Per-melody statistics, each [N]: mean pitch (the register: the other statistics do not change when a
    melody is transposed), pitch range (semitones), notes a bar, mean absolute interval, share in key,
    repeated bars."""
    bars = steps / STEPS_PER_BAR
    return {
        "mean_pitch": np.array([float(m[:, 2].mean()) if len(m) else 0.0 for m in melodies]),
        "pitch_range": np.array([float(np.ptp(m[:, 2])) if len(m) else 0.0 for m in melodies]),
        "notes_per_bar": np.array([len(m) / bars for m in melodies]),
        "mean_interval": np.array([float(np.abs(np.diff(m[:, 2])).mean()) if len(m) > 1 else 0.0 for m in melodies]),
        "in_key": np.array([in_key(m) for m in melodies]),
        "repetition": np.array([repetition(m, steps) for m in melodies]),
    }


def pitch_class_hist(melodies: list[np.ndarray]) -> np.ndarray:
    """Duration-weighted pitch-class histogram [12] of all melodies together."""
    h = sum((pitch_classes(m) * (m[:, 1] - m[:, 0]).sum() for m in melodies if len(m)), np.zeros(12))
    return h / max(h.sum(), 1e-9)


def interval_hist(melodies: list[np.ndarray]) -> np.ndarray:
    """Histogram [25] of successive intervals -12..12 semitones (wider leaps on the edges), all melodies."""
    d = np.concatenate([np.diff(m[:, 2]) for m in melodies if len(m) > 1] or [np.zeros(0, np.int32)])
    h = np.bincount(np.clip(d, -INTERVALS, INTERVALS) + INTERVALS, minlength=2 * INTERVALS + 1).astype(np.float64)
    return h / max(h.sum(), 1e-9)


def music_report(data) -> dict:
    """`data inspect` for melodies (saved with every run): the shared keys, duplicates and train/test overlap,
    the windows dropped; keys, pitches and note densities of REPORT_MELODIES training melodies."""
    codec = data.codec
    pick = np.random.default_rng(0).permutation(len(data.train))[:REPORT_MELODIES]
    train = [codec.to_notes(r) for r in data.train[np.sort(pick)]]
    stats = per_melody(train, codec.steps)
    pitches = np.concatenate([m[:, 2] for m in train])
    return shared_report(data) | {
        "modality": "music",
        "bars": codec.bars,
        "pitch": {"min": int(pitches.min()), "max": int(pitches.max()), "median": float(np.median(pitches))},
        "keys": dict(Counter(f"{NAMES[t]} {mode}" for t, mode in map(estimate_key, train)).most_common(6)),
        "notes_per_bar": {
            "median": float(np.median(stats["notes_per_bar"])),
            "hist": histogram(stats["notes_per_bar"]),
        },
        "in_key": round(float(stats["in_key"].mean()), 4),
        "duplicates": duplicate_report(data),
    }


def format_music_report(rep: dict) -> str:
    """Human-readable text of `music_report`."""
    p = rep["pitch"]
    lines = [
        f"data set     {rep['name']}  (fingerprint {rep['fingerprint']})",
        f"melodies     {rep['n_train']} train / {rep['n_test']} test, {rep['bars']} bar(s) of 16 steps; "
        f"split: {rep['split']}",
        f"pitch        {p['min']}..{p['max']} (median {p['median']:.0f}); notes a bar: median "
        f"{rep['notes_per_bar']['median']:.1f}; in key: {rep['in_key']:.1%}",
        "keys         " + ", ".join(f"{k} {v}" for k, v in rep["keys"].items()),
    ]
    lines += [f"source       {k}: {v}" for k, v in rep["source"].items()]
    lines += format_classes(rep["class_counts"]["train"])
    lines += format_problems(rep["problems"], "unusable file(s)")
    lines += format_duplicates(rep["duplicates"], "melodies")
    return "\n".join(lines)
