"""A run's generation log, RUN/generations.jsonl: one line per fingerprinted item genforge wrote.

Each line: {"time", "file", "item" (its index in the file, or null for the whole file), "kind", "fp", and
the generation's seed and mode}. `genforge verify` searches the logs of every run under a folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from ..io import append_jsonl, read_jsonl
from .fingerprints import KINDS

LOG = "generations.jsonl"


def append(run: Path, rows: Iterable[dict]) -> None:
    """Append log rows, stamped with the time, to RUN/generations.jsonl in one write."""
    stamp = round(time.time(), 3)
    append_jsonl(run / LOG, *({"time": stamp, **r} for r in rows))


def runs_under(root: Path) -> list[Path]:
    """The run folders under `root` (or `root` itself) that keep a generation log."""
    root = Path(root)
    if (root / LOG).is_file():
        return [root]
    return sorted(p.parent for p in root.rglob(LOG)) if root.is_dir() else []


def read_log(run: Path) -> list[dict]:
    """A run's log rows (none before its first generated file; a torn line is skipped)."""
    return read_jsonl(run / LOG)


@dataclass
class Match:
    run: Path
    file: str
    item: Optional[int]
    distance: float


class LogIndex:
    """The generation logs of some runs, read once and indexed by fingerprint kind for `best_match`."""

    def __init__(self, runs: list[Path]):
        self._by_kind: dict[str, list[tuple[Path, list[dict], object]]] = {}
        self._rows = {run: read_log(run) for run in runs}

    def _index(self, kind: str):
        if kind not in self._by_kind:
            k = KINDS[kind]
            self._by_kind[kind] = []
            for run, rows in self._rows.items():
                mine = [r for r in rows if r.get("kind") == kind]
                self._by_kind[kind].append((run, mine, k.index([r["fp"] for r in mine])))
        return self._by_kind[kind]

    def best_match(self, kind: str, fp) -> Optional[Match]:
        """The logged item of `kind` nearest to `fp` within the kind's threshold; None where none is that close."""
        k, best = KINDS[kind], None
        for run, rows, index in self._index(kind):
            i, d = k.nearest(fp, index)
            if i >= 0 and d <= k.threshold and (best is None or d < best.distance):
                best = Match(run, rows[i].get("file") or "", rows[i].get("item"), d)
        return best
