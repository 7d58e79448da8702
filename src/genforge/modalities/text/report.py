"""The text data report: counts, lengths, vocabulary and its coverage, cleaning, duplicates, overlap."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ...data.report import MAX_LISTED, format_classes, format_problems, histogram, shared_report
from .textset import EOS, UNK, TextData


def text_report(data: TextData) -> dict:
    """A JSON-ready summary of a text data set; shown by `data inspect` and saved with every run."""
    tokens = np.concatenate([(data.train > 0).sum(1), (data.test > 0).sum(1)]) - 1  # EOS excluded
    chars = np.array([len(t) for t in data.train_text + data.test_text])
    seen = Counter(data.train_text)
    dup_groups = [t for t, c in seen.items() if c > 1]
    overlap = sorted({t for t in data.test_text if t in seen})
    test_ids = data.test[data.test > EOS]
    return shared_report(data) | {
        "modality": "text",
        "vocab_size": data.vocab_size,
        "unk_share_test": round(float((test_ids == UNK).mean()) if len(test_ids) else 0.0, 5),
        "length_chars": {
            "median": float(np.median(chars)),
            "max": int(chars.max()),
            "hist": histogram(chars, digits=1),
        },
        "length_tokens": {
            "median": float(np.median(tokens)),
            "max": int(tokens.max()),
            "hist": histogram(tokens, digits=1),
        },
        "duplicates": {
            "groups": len(dup_groups),
            "extra_copies": sum(seen[t] - 1 for t in dup_groups),
            "train_test_overlap": len(overlap),
            "examples": [[t[:80]] for t in overlap[:MAX_LISTED]],
        },
        "examples": data.train_text[:5],
    }


def format_text_report(rep: dict) -> str:
    """Human-readable text of `text_report`."""
    lc, lt, cl = rep["length_chars"], rep["length_tokens"], rep["source"].get("cleaned", {})
    lines = [
        f"data set     {rep['name']}  (fingerprint {rep['fingerprint']})",
        f"samples      {rep['n_train']} train / {rep['n_test']} test; split: {rep['split']}",
        f"length       median {lc['median']:.0f} chars (max {lc['max']}), {lt['median']:.0f} tokens (max {lt['max']})",
        f"vocabulary   {rep['vocab_size']} pieces; unknown pieces in the test split: "
        f"{100 * rep['unk_share_test']:.2f}%",
        f"cleaned      {cl.get('escape_sequences', 0)} escape sequence(s), {cl.get('control_characters', 0)} control "
        f"character(s) removed; {cl.get('empty_samples', 0)} empty sample(s) dropped; "
        f"{rep['source'].get('dropped_too_long', 0)} over data.max_tokens dropped",
    ]
    lines += format_classes(rep["class_counts"]["train"])
    lines += format_problems(rep["problems"], "unreadable line(s)")
    d = rep["duplicates"]
    lines.append(
        f"duplicates   {d['groups']} repeated training sample(s), {d['extra_copies']} extra copies, "
        f"{d['train_test_overlap']} test sample(s) also in train"
    )
    lines += ["  " + g[0] for g in d["examples"][:5]]
    lines += ["examples"] + [f"  {t[:100]}" for t in rep["examples"]]
    return "\n".join(lines)
