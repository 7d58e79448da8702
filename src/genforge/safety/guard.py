"""Samples held back before they are written: near copies of training items, and what the modality's screen
refuses (offensive text). A held-back sample is drawn again from a new seed; what is still refused after
REDRAWS rounds is left out. The counts go into the generation log and the file's manifest.

A near copy is what the evaluation calls one: a sample whose nearest training item (in the modality's
near-copy vectors) is closer than the held-out floor, the 1% quantile of held-out real items' distances to
their nearest training item (on half the test split, as `genforge evaluate` calibrates it).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..errors import GenforgeError
from ..evaluate.metrics import held_out_threshold, nearest_distances
from ..io import write_json
from ..modalities import modality_of

REDRAWS = 5
FLOOR = "copy_floor.json"
SEED_STRIDE = 1_000_003  # round r draws from seed + r * SEED_STRIDE: reproducible, apart from users' seeds


@dataclass
class GuardReport:
    """What the guards did to one draw: items redrawn as near copies or as screened, and left out."""

    copies_redrawn: int = 0
    screened_redrawn: int = 0
    left_out: int = 0
    reasons: dict = field(default_factory=dict)  # screen reason -> count
    copy_threshold: Optional[float] = None
    guards: list = field(default_factory=list)  # which ran: "copies", "screen"

    def as_dict(self) -> dict:
        return asdict(self)


def guard_note(report: Optional[dict]) -> str:
    """What the guards did, as the tail of a command's last line ("" when they changed nothing)."""
    if not report:
        return ""
    parts = [f"{report[k]} {what}" for k, what in (("copies_redrawn", "near copies redrawn"),
             ("screened_redrawn", "screened samples redrawn"), ("left_out", "left out")) if report.get(k)]  # fmt: skip
    return f" ({', '.join(parts)})" if parts else ""


@dataclass(frozen=True)
class CopyGuard:
    """The training set's near-copy vectors and the held-out floor below which a sample is a copy."""

    train: torch.Tensor
    threshold: float

    def copies(self, vectors: torch.Tensor) -> torch.Tensor:
        """Mask [N] of the items (near-copy vectors [N, d]) closer to a training item than the floor."""
        return nearest_distances(vectors, self.train)[0] <= self.threshold


_GUARDS: dict[tuple[str, str], CopyGuard] = {}


def copy_guard(model) -> CopyGuard:
    """The copy guard of a loaded model's run, built once per run and data fingerprint in a process."""
    fingerprint = (model.dataset_info or {}).get("fingerprint", "")
    key = (str(model.run_dir), fingerprint)
    if key not in _GUARDS:
        mod, cfg = modality_of(model), model.run_config.data
        data = mod.load(cfg, model.run_dir)
        if data.fingerprint != fingerprint:
            raise GenforgeError(
                f"{model.run_dir}: its data ({cfg.source}) changed since training (fingerprint {data.fingerprint}, "
                f"trained on {fingerprint}); the copy guard needs the training data: restore it, or --allow-copies"
            )

        def memo(stored: torch.Tensor) -> torch.Tensor:
            return mod.memo_vectors(stored, data.codec)

        train = memo(data.tensor("train"))
        floor = _threshold(model.run_dir, fingerprint, lambda: held_out_threshold(memo, data.tensor("test"), train))
        _GUARDS[key] = CopyGuard(train, floor)
    return _GUARDS[key]


def _threshold(run: Path, fingerprint: str, measure) -> float:
    """The held-out floor of a run's data, measured once and kept in RUN/copy_floor.json with the data's
    fingerprint (held-out items against every training item: seconds on a large set)."""
    path = Path(run) / FLOOR
    try:
        kept = json.loads(path.read_text())
        if kept.get("fingerprint") == fingerprint:
            return float(kept["threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = measure()
    with contextlib.suppress(OSError):  # a read-only run still samples; it measures again next time
        write_json(path, {"fingerprint": fingerprint, "threshold": value, "quantile": 0.01})
    return value


def guarded_samples(
    model,
    n: int,
    seed: int = 0,
    label: Optional[int] = None,
    prompt: Optional[str] = None,
    allow_copies: bool = False,
    screen: bool = True,
    block_list: Optional[Path] = None,
) -> tuple[object, Optional[np.ndarray], GuardReport]:
    """(n samples in the user form, their labels or None, the guards' report): prior samples with near copies
    (unless `allow_copies`) and screened items (unless not `screen`) drawn again, REDRAWS rounds at most."""

    def draw(idx: torch.Tensor, s: int):  # prior samples: which of the n are redrawn does not matter
        return model.sample_with_labels(len(idx), seed=s, label=label, prompt=prompt)

    return guarded(model, draw, n, seed, allow_copies, screen, block_list)[:3]


def guarded(
    model,
    draw: Callable[[torch.Tensor, int], tuple[torch.Tensor, Optional[torch.Tensor]]],
    n: int,
    seed: int = 0,
    allow_copies: bool = False,
    screen: bool = True,
    block_list: Optional[Path] = None,
) -> tuple[object, Optional[np.ndarray], GuardReport, torch.Tensor]:
    """The guards round any way of drawing: `draw(positions, seed)` returns (model outputs, labels or None) for
    the items at `positions` [k] of the n (the answers to their questions; prior samples ignore which); near
    copies and screened items are drawn again with new seeds, REDRAWS rounds at most, then left out. Returns
    (samples, labels, report, the positions of the n the samples hold)."""
    mod = modality_of(model)
    report = GuardReport(guards=[g for g, on in (("copies", not allow_copies), ("screen", screen)) if on])
    guard = None if allow_copies else copy_guard(model)
    report.copy_threshold = None if guard is None else round(guard.threshold, 6)

    def stored_of(idx: torch.Tensor, s: int):
        x, y = draw(idx, s)
        return mod.reread(mod.to_stored(x), model.codec), None if y is None else y.cpu()

    stored, labels = stored_of(torch.arange(n), seed)
    kept = torch.arange(n)
    for rnd in range(REDRAWS + 1):
        if guard is None:
            bad = torch.zeros(len(stored), dtype=torch.bool)
        else:
            bad = guard.copies(mod.memo_vectors(stored, model.codec))
        reasons = mod.screen(mod.to_samples(stored, model.codec), block_list) if screen else [""] * len(stored)
        screened = torch.tensor([bool(r) for r in reasons], dtype=torch.bool)
        if not bad.any() and not screened.any():
            break
        if rnd == REDRAWS:  # still refused: leave them out
            keep = ~(bad | screened)
            report.left_out = int((~keep).sum())
            stored, labels, kept = stored[keep], None if labels is None else labels[keep], kept[keep]
            break
        report.copies_redrawn += int(bad.sum())
        report.screened_redrawn += int((screened & ~bad).sum())
        for r in reasons:
            if r:
                report.reasons[r] = report.reasons.get(r, 0) + 1
        idx = torch.nonzero(bad | screened).flatten()
        new, new_labels = stored_of(idx, seed + (rnd + 1) * SEED_STRIDE)
        stored, new = _same_width(stored, new)
        stored[idx] = new
        if labels is not None:
            labels = labels.clone()
            labels[idx] = new_labels
    return mod.to_samples(stored, model.codec), None if labels is None else labels.numpy(), report, kept


def _same_width(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two stored batches with equal item shapes: a copy of `a` and `b`, token rows (text) zero-padded to the
    longer one's width; other forms are equal already."""
    if a.shape[1:] == b.shape[1:]:
        return a.clone(), b
    width = max(a.shape[1], b.shape[1])
    return (torch.nn.functional.pad(a, (0, width - a.shape[1])), torch.nn.functional.pad(b, (0, width - b.shape[1])))
