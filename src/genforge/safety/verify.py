"""`genforge verify FILE...`: does a file carry a valid genforge manifest, and does a run's generation log
hold it (after its metadata is gone, re-encoded, resized, cropped or trimmed a little)?"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import DataError
from .fingerprints import file_items
from .log import LogIndex, runs_under
from .provenance import SIDECAR, read_manifest


@dataclass
class Verdict:
    file: str
    manifest: str  # valid | edited | invalid | none
    manifest_run: Optional[str] = None  # the run the manifest names
    detail: str = ""
    kind: Optional[str] = None
    items: int = 0  # items fingerprinted in the file
    matched: int = 0  # of them, found in a run's log
    runs: list[str] = field(default_factory=list)  # runs whose log holds them, nearest first
    distance: Optional[float] = None  # the nearest item's distance (its kind's scale)
    error: str = ""

    @property
    def recognised(self) -> bool:
        """Whether any item was found in a generation log."""
        return self.matched > 0

    def line(self) -> str:
        """One line for the terminal."""
        head = {"valid": "signed by genforge", "edited": "EDITED after signing", "invalid": "manifest INVALID",
                "none": "no manifest"}[self.manifest]  # fmt: skip
        if self.manifest_run:
            head += f" (run {self.manifest_run})"
        if self.error:
            return f"{self.file}: {head}; {self.error}"
        if self.matched:
            tail = (f"{self.matched}/{self.items} {self.kind} item(s) in the generation log of "
                    f"{', '.join(self.runs)} (distance {self.distance:.3f})")  # fmt: skip
        else:
            tail = f"not in any generation log ({self.items} {self.kind} item(s) looked up)"
        return f"{self.file}: {head}; {tail}"

    def as_dict(self) -> dict:
        return {**asdict(self), "recognised": self.recognised}


def verify_file(path: Path, logs: LogIndex) -> Verdict:
    """The manifest and generation-log verdict of one file against the generation logs of `logs`."""
    path = Path(path)
    if not path.is_file():
        return Verdict(str(path), "none", error="no such file")
    check = read_manifest(path)
    v = Verdict(str(path), check.state, (check.info or {}).get("run"), check.detail)
    try:
        kind, items = file_items(path)
    except DataError as e:
        v.error = str(e).removeprefix(f"{path}: ")
        return v
    v.kind, v.items = kind.name, len(items)
    found = {}
    for fp in items:
        m = logs.best_match(kind.name, fp)
        if m is not None:
            v.matched += 1
            found[str(m.run)] = min(m.distance, found.get(str(m.run), 1.0))
    v.runs = sorted(found, key=found.get)
    v.distance = min(found.values()) if found else None
    return v


def verify(paths: list[Path], runs_dir: Path) -> list[Verdict]:
    """Verdicts of `paths` against every run under `runs_dir` that keeps a generation log."""
    logs = LogIndex(runs_under(runs_dir))
    # a sidecar manifest stands for the file beside it: each file is checked once
    files = list(dict.fromkeys(Path(str(p).removesuffix(SIDECAR)) for p in paths))
    return [verify_file(p, logs) for p in files]
