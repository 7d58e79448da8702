"""What every modality's data report shares: counts, shapes, classes, skipped files, exact duplicates, histograms."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Optional

import numpy as np

MAX_LISTED = 20


def find_duplicates(images: np.ndarray) -> list[list[int]]:
    """Groups (of indices) of byte-identical images, largest first."""
    groups: dict[bytes, list[int]] = defaultdict(list)
    for i, img in enumerate(images):
        groups[hashlib.blake2b(img.tobytes(), digest_size=16).digest()].append(i)
    dup = [g for g in groups.values() if len(g) > 1]
    return sorted(dup, key=len, reverse=True)


def histogram(values: np.ndarray, bins: int = 10, digits: int = 2) -> dict:
    """A JSON-ready histogram: bin edges (rounded to `digits`) and counts."""
    counts, edges = np.histogram(values, bins=bins)
    return {"edges": [round(float(e), digits) for e in edges], "counts": counts.tolist()}


def class_counts(labels, names) -> dict[str, int] | None:
    if labels is None:
        return None
    counts = np.bincount(labels, minlength=len(names) if names else 0)
    return {(names[i] if names and i < len(names) else str(i)): int(c) for i, c in enumerate(counts)}


def shared_report(data) -> dict:
    """The report keys every modality shares: name, fingerprint, sizes, shape, split, classes, problems, source."""
    return {
        "name": data.name,
        "fingerprint": data.fingerprint,
        "n_train": len(data.train),
        "n_test": len(data.test),
        "shape": list(data.shape),
        "split": data.split,
        "class_counts": {
            "train": class_counts(data.train_labels, data.class_names),
            "test": class_counts(data.test_labels, data.class_names),
        },
        "problems": [{"path": p, "reason": r} for p, r in data.problems],
        "source": data.summary,
        # a set derived from a built-in one (moving digits, class pairs) names it as its origin
        "licence": licence_of(data.name) or licence_of(str(data.summary.get("origin", ""))),
    }


def licence_of(name: str) -> Optional[str]:
    """The licence a built-in data set states; None for a user's files (their licence is theirs to know)."""
    from .base import SOURCES  # deferred: base imports this module's helpers

    return SOURCES.get(name).licence if name in SOURCES else None


def duplicate_report(data) -> dict:
    """Byte-identical items of an array data set (images, clips), named by their source ids where known."""
    groups = find_duplicates(np.concatenate([data.train, data.test]))
    n_train = len(data.train)

    def name(i: int) -> str:
        if i < n_train:
            return data.train_ids[i] if data.train_ids else f"train[{i}]"
        return f"test[{i - n_train}]"

    return {
        "groups": len(groups),
        "extra_copies": sum(len(g) - 1 for g in groups),
        "train_test_overlap": sum(1 for g in groups if min(g) < n_train <= max(g)),
        "examples": [[name(i) for i in g[:4]] for g in groups[:MAX_LISTED]],
    }


def format_duplicates(d: dict, what: str) -> list[str]:
    """Report lines of `duplicate_report` for items called `what` (images, clips)."""
    head = (
        f"duplicates   {d['groups']} group(s) of identical {what}, {d['extra_copies']} extra copies, "
        f"{d['train_test_overlap']} across train/test"
    )
    return [head] + ["  " + " = ".join(g) for g in d["examples"][:5]]


def format_problems(probs: list[dict], what: str) -> list[str]:
    """Report lines for skipped inputs, each with its path and reason (the first MAX_LISTED)."""
    lines = [f"skipped      {len(probs)} {what}"] + [f"  {p['path']}: {p['reason']}" for p in probs[:MAX_LISTED]]
    if len(probs) > MAX_LISTED:
        lines.append(f"  ... and {len(probs) - MAX_LISTED} more")
    return lines


def format_classes(counts: dict[str, int] | None) -> list[str]:
    """Report lines for the training split's classes (or that it has none)."""
    if not counts:
        return ["classes      none (unlabelled)"]
    lo, hi = min(counts.values()), max(counts.values())
    head = f"classes      {len(counts)} (train counts {lo}..{hi}{', imbalanced' if hi > 3 * max(lo, 1) else ''})"
    return [head] + [f"  {k:<14} {v}" for k, v in counts.items()]
