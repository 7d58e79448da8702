"""The audio data report: counts, durations, sample rates met, loudness, silent and clipped clips, duplicates."""

from __future__ import annotations

import numpy as np

from ..dsp import rms_dbfs
from .audio import CLIPPED_SHARE, AudioData
from .validate import MAX_LISTED, class_counts, find_duplicates, format_classes, format_problems, histogram


def audio_report(data: AudioData) -> dict:
    """A JSON-ready summary of an audio data set; shown by `data inspect` and saved with every run."""
    clips = np.concatenate([data.train, data.test])
    x = clips.astype(np.float32) / 32767.0
    loud = rms_dbfs(x)
    clipped = (np.abs(clips.astype(np.int32)) >= 32767).mean(1) > CLIPPED_SHARE
    groups = find_duplicates(clips)
    n_train = len(data.train)

    def name(i: int) -> str:
        if i < n_train:
            return data.train_ids[i] if data.train_ids else f"train[{i}]"
        return f"test[{i - n_train}]"

    return {
        "name": data.name,
        "modality": "audio",
        "fingerprint": data.fingerprint,
        "n_train": n_train,
        "n_test": len(data.test),
        "shape": list(data.shape),
        "sample_rate": data.sample_rate,
        "seconds": round(data.train.shape[1] / data.sample_rate, 4),
        "split": data.split,
        "loudness_dbfs": {"median": round(float(np.median(loud)), 2), "hist": histogram(loud, digits=1)},
        "quiet_clips": int((loud < -50).sum()),
        "clipped_clips": int(clipped.sum()),
        "class_counts": {
            "train": class_counts(data.train_labels, data.class_names),
            "test": class_counts(data.test_labels, data.class_names),
        },
        "problems": [{"path": p, "reason": r} for p, r in data.problems],
        "duplicates": {
            "groups": len(groups),
            "extra_copies": sum(len(g) - 1 for g in groups),
            "train_test_overlap": sum(1 for g in groups if min(g) < n_train <= max(g)),
            "examples": [[name(i) for i in g[:4]] for g in groups[:MAX_LISTED]],
        },
        "source": data.summary,
    }


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
    lines += format_classes(rep["class_counts"]["train"])
    lines += format_problems(rep["problems"], "unusable file(s)")
    d = rep["duplicates"]
    lines.append(
        f"duplicates   {d['groups']} group(s) of identical clips, {d['extra_copies']} extra copies, "
        f"{d['train_test_overlap']} across train/test"
    )
    lines += ["  " + " = ".join(g) for g in d["examples"][:5]]
    return "\n".join(lines)
