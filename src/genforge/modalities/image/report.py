"""The image data report of `genforge data inspect`, saved with every run as data.json."""

from __future__ import annotations

from ...data.report import duplicate_report, format_classes, format_duplicates, format_problems, shared_report
from .dataset import ImageData


def data_report(data: ImageData) -> dict:
    """A JSON-ready summary of `data`; shown by `data inspect` and saved with every run."""
    pixel_mean = round(float(data.train.mean()) / 255.0, 4)
    return shared_report(data) | {"pixel_mean": pixel_mean, "duplicates": duplicate_report(data)}


def format_report(rep: dict) -> str:
    """Human-readable text of `data_report`."""
    c, h, w = rep["shape"]
    lines = [
        f"data set     {rep['name']}  (fingerprint {rep['fingerprint']})",
        f"images       {rep['n_train']} train / {rep['n_test']} test, {h}x{w}, {c} channel(s); split: {rep['split']}",
        f"pixel mean   {rep['pixel_mean']}",
    ]
    lines += format_classes(rep["class_counts"]["train"])
    for k, v in rep["source"].items():
        if k != "files" or not isinstance(v, dict):
            lines.append(f"source       {k}: {v}")
    lines += format_problems(rep["problems"], "unreadable file(s)")
    lines += format_duplicates(rep["duplicates"], "images")
    return "\n".join(lines)
