"""The audio data report: counts, durations, sample rates met, loudness, silent and clipped clips, duplicates."""

from __future__ import annotations

import numpy as np

from ...data.report import (
    duplicate_report,
    format_classes,
    format_duplicates,
    format_problems,
    histogram,
    shared_report,
)
from .dsp import rms_dbfs
from .sources import CLIPPED_SHARE, AudioData

FEW_CLIPS = 5  # a speaker with fewer training clips than this is named: too few to learn a voice from


def speaker_report(data: AudioData) -> dict:
    """Speakers of a voice data set: how many a split, clips a speaker, those with too few clips, who each is."""
    if data.train_speakers is None:
        return {}
    train = {s: data.train_speakers.count(s) for s in sorted(set(data.train_speakers))}
    per = np.array(list(train.values()))
    shared = sorted(set(train) & set(data.test_speakers or []))
    return {
        "speakers": {
            "train": len(train),
            "test": len(set(data.test_speakers or [])),
            "in_both": len(shared),
            "clips_per_speaker": {"min": int(per.min()), "median": float(np.median(per)), "max": int(per.max())},
            "few_clips": [s for s, n in train.items() if n < FEW_CLIPS],
        }
    }


def audio_report(data: AudioData) -> dict:
    """A JSON-ready summary of an audio data set; shown by `data inspect` and saved with every run."""
    clips = np.concatenate([data.train, data.test])
    loud = rms_dbfs(clips.astype(np.float32) / 32767.0)
    clipped = (np.abs(clips.astype(np.int32)) >= 32767).mean(1) > CLIPPED_SHARE
    return (
        shared_report(data)
        | {
            "modality": "audio",
            "sample_rate": data.sample_rate,
            "seconds": round(data.train.shape[1] / data.sample_rate, 4),
            "loudness_dbfs": {"median": round(float(np.median(loud)), 2), "hist": histogram(loud, digits=1)},
            "quiet_clips": int((loud < -50).sum()),
            "clipped_clips": int(clipped.sum()),
            "duplicates": duplicate_report(data),
        }
        | speaker_report(data)
    )


def format_audio_report(rep: dict) -> str:
    """Human-readable text of `audio_report`."""
    src = rep["source"]
    lines = [
        f"data set     {rep['name']}  (fingerprint {rep['fingerprint']})",
        f"clips        {rep['n_train']} train / {rep['n_test']} test, {rep['seconds']:g} s at {rep['sample_rate']} Hz "
        f"mono; split: {rep['split']}",
        f"loudness     median {rep['loudness_dbfs']['median']:.1f} dBFS RMS; {rep['quiet_clips']} clip(s) below "
        f"-50 dBFS; {rep['clipped_clips']} clipped (over {100 * CLIPPED_SHARE:g}% of samples at full scale)",
    ]
    if "sample_rates" in src:
        rates = ", ".join(f"{r} Hz x{n}" for r, n in src["sample_rates"].items())
        edges = src["seconds"]["edges"]
        lines.append(f"files        {src['files']}; sample rates: {rates}; durations {edges[0]:g}..{edges[-1]:g} s")
    for k in ("speakers", "test_speakers", "synthesiser"):
        if k in src:
            lines.append(f"source       {k}: {src[k]}")
    if "speakers" in rep:
        sp = rep["speakers"]
        per = sp["clips_per_speaker"]
        lines.append(
            f"speakers     {sp['train']} train / {sp['test']} test ({sp['in_both']} in both); clips a training "
            f"speaker: min {per['min']}, median {per['median']:g}, max {per['max']}"
        )
        if sp["few_clips"]:
            lines.append(f"             fewer than {FEW_CLIPS} clips: {', '.join(sp['few_clips'][:20])}")
    for name, who in src.get("who", {}).items():
        lines.append(f"speaker      {name}: {who}")
    lines += format_classes(rep["class_counts"]["train"])
    lines += format_problems(rep["problems"], "unusable file(s)")
    lines += format_duplicates(rep["duplicates"], "clips")
    return "\n".join(lines)
