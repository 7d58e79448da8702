"""The runs a server watches: their models (loaded when weights appear, reloaded when a training
run writes newer ones), status, metrics and newest preview, for the live page.

Runs are addressed by folder name, fixed at start-up; no request ever names a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..errors import GenforgeError
from ..io import read_json
from ..modalities import modality_of
from ..models import FAMILIES
from ..report.runs import find_runs
from ..run import CONFIG, WEIGHTS, load, read_status

MAX_RECORDS = 2000  # metrics lines per answer: a page polls with `since`, so it never needs more


class ServedRun:
    """One run directory: its model, loaded lazily and again whenever its weights file changes."""

    def __init__(self, path: Path):
        self.path, self.name = path, path.resolve().name
        raw = read_json(path / CONFIG)
        self.family, self.preset = raw.get("family"), raw.get("preset")
        self.modality = modality_of(FAMILIES.get(self.family))
        self._model, self._mtime = None, None

    def model(self):
        """The trained model, fresh from the newest weights; None while there are none yet."""
        weights = self.path / WEIGHTS
        if not weights.is_file():
            return None
        mtime = weights.stat().st_mtime_ns
        if self._model is None or mtime != self._mtime:
            try:
                m = load(self.path)
            except GenforgeError:  # written half-way by a crashed process or for another config: keep the last
                return self._model
            ev = self.path / "eval.json"
            metrics = read_json(ev)["metrics"] if ev.is_file() else {}
            m.eval_figures = {k: v.get("value") for k, v in metrics.items()}
            self._model, self._mtime = m, mtime
        return self._model

    def info(self) -> dict:
        st = read_status(self.path)
        return {
            "name": self.name,
            "family": self.family,
            "preset": self.preset,
            "modality": self.modality.name,
            "status": st["state"],
            "step": st.get("step"),
            "total": st.get("total"),
            "has_weights": (self.path / WEIGHTS).is_file(),
        }

    def metrics(self, since: int = 0) -> dict:
        """metrics.jsonl records from line `since` on (at most MAX_RECORDS), and the next `since`."""
        path = self.path / "metrics.jsonl"
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines() if path.is_file() else []
        complete = lines if not lines or lines[-1].endswith("}") else lines[:-1]  # a line being written
        chunk = complete[since : since + MAX_RECORDS]
        records = []
        for line in chunk:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return {"records": records, "next": since + len(chunk)}

    def newest_preview(self) -> Optional[Path]:
        previews = sorted((self.path / "samples").glob(f"step_*{self.modality.preview_suffix}"))
        return previews[-1] if previews else None


def watch(paths: list[str | Path]) -> dict[str, ServedRun]:
    """name -> ServedRun for every run directory given, or found under a folder given."""
    runs: dict[str, ServedRun] = {}
    for p in paths:
        for run in find_runs(p):
            served = ServedRun(run)
            if served.name in runs:
                raise ValueError(f"two runs are named '{served.name}'; serve runs with distinct folder names")
            runs[served.name] = served
    return runs
