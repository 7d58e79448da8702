"""The video data report: counts, clip shape and rate, motion (frame-to-frame change), still clips, duplicates."""

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
from .sources import VideoData

STILL = 0.002  # a clip whose frames change less than this (mean |difference| in [0, 1] units) does not move


def frame_changes(clips: np.ndarray) -> np.ndarray:
    """Mean absolute change from each frame to the next, in [0, 1] pixel units: uint8 [N, T, ...] -> [N, T - 1]."""
    n, t = clips.shape[:2]
    out = np.empty((n, t - 1))
    for i in range(0, n, 256):  # in chunks: the differences of a whole data set would not fit
        part = clips[i : i + 256].astype(np.int16)
        out[i : i + 256] = np.abs(np.diff(part, axis=1)).reshape(len(part), t - 1, -1).mean(2) / 255.0
    return out


def frame_change(clips: np.ndarray) -> np.ndarray:
    """Mean absolute change between consecutive frames, per clip, in [0, 1] pixel units: uint8 [N, T, ...] -> [N]."""
    return frame_changes(clips).mean(1)


def video_report(data: VideoData) -> dict:
    """A JSON-ready summary of a video data set; shown by `data inspect` and saved with every run."""
    change = frame_change(np.concatenate([data.train, data.test]))
    return shared_report(data) | {
        "modality": "video",
        "fps": data.fps,
        "seconds": round(data.shape[1] / data.fps, 3),
        "frame_change": {"median": round(float(np.median(change)), 4), "hist": histogram(change, digits=4)},
        "still_clips": int((change < STILL).sum()),
        "duplicates": duplicate_report(data),
    }


def format_video_report(rep: dict) -> str:
    """Human-readable text of `video_report`."""
    c, t, h, w = rep["shape"]
    src = rep["source"]
    lines = [
        f"data set     {rep['name']}  (fingerprint {rep['fingerprint']})",
        f"clips        {rep['n_train']} train / {rep['n_test']} test, {t} frames of {h}x{w}, {c} channel(s) at "
        f"{rep['fps']:g} fps ({rep['seconds']:g} s); split: {rep['split']}",
        f"motion       median frame-to-frame change {rep['frame_change']['median']:.4f} ([0, 1] pixels); "
        f"{rep['still_clips']} still clip(s)",
    ]
    lines += [f"source       {k}: {v}" for k, v in src.items()]
    lines += format_classes(rep["class_counts"]["train"])
    lines += format_problems(rep["problems"], "unusable file(s)")
    lines += format_duplicates(rep["duplicates"], "clips")
    return "\n".join(lines)
