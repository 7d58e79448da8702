"""The dialog data report: pairs per category, lengths of each side, repeats, questions shared by the splits."""

from __future__ import annotations

import numpy as np

from ...data.report import format_classes, format_problems, histogram, shared_report


def dialog_report(data) -> dict:
    """A JSON-ready summary of a pair set; shown by `data inspect` and saved with every run."""
    out = shared_report(data) | {"modality": "dialog", "vocab_size": data.vocab_size}
    for s, side in enumerate(("question", "answer")):
        tokens = np.concatenate([(data.train[:, s] > 0).sum(1), (data.test[:, s] > 0).sum(1)]) - 1  # EOS excluded
        out[f"{side}_tokens"] = {"median": float(np.median(tokens)), "max": int(tokens.max()),
                                 "hist": histogram(tokens, digits=1)}  # fmt: skip
    train_q, train_pairs = {q for q, _ in data.train_pairs}, set(data.train_pairs)
    out["duplicates"] = {
        # the keys every report has: groups of identical pairs (each kept once) and pairs on both sides
        "groups": data.summary.get("repeated_pair_groups", 0),
        "train_test_overlap": sum(p in train_pairs for p in data.test_pairs),
        "repeated_pairs_dropped": data.summary.get("repeated_pairs_dropped", 0),
        "test_questions_in_train": sum(q in train_q for q, _ in data.test_pairs),
        "distinct_train_questions": len(train_q),
    }
    out["examples"] = [list(p) for p in data.train_pairs[:5]]
    return out


def format_dialog_report(rep: dict) -> str:
    """Human-readable text of `dialog_report`."""
    q, a, d = rep["question_tokens"], rep["answer_tokens"], rep["duplicates"]
    cl = rep["source"].get("cleaned", {})
    lines = [
        f"data set     {rep['name']}  (fingerprint {rep['fingerprint']})",
        f"pairs        {rep['n_train']} train / {rep['n_test']} test; split: {rep['split']}",
        f"length       questions median {q['median']:.0f} tokens (max {q['max']}), answers median {a['median']:.0f} "
        f"(max {a['max']})",
        f"vocabulary   {rep['vocab_size']} pieces (one tokenizer for both sides)",
        f"cleaned      {cl.get('empty_sides', 0)} pair(s) with an empty side skipped; "
        f"{rep['source'].get('dropped_too_long', 0)} over data.max_tokens dropped",
        f"duplicates   {d['groups']} pair(s) repeated, {d['repeated_pairs_dropped']} repeat(s) dropped; "
        f"{d['train_test_overlap']} test pair(s) and {d['test_questions_in_train']} test question(s) also in "
        f"training; {d['distinct_train_questions']} distinct training questions",
    ]
    lines += format_classes(rep["class_counts"]["train"])
    lines += format_problems(rep["problems"], "skipped input(s)")
    lines += ["examples"] + [f"  Q: {x[0][:90]}\n  A: {x[1][:90]}" for x in rep["examples"]]
    return "\n".join(lines)
