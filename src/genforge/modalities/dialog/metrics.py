"""Figures of answers: relevance (recall at 1 under a matching model trained on the data), the BLEU recall and
precision of several answers a question (Zhao et al. 2017; Gu et al. 2019), distinct n-grams within a
question's answers, and the answers' length against the data's. The text figures (distinct across questions,
invented words, self-BLEU) serve answers too: a dialog sample is its answer's string.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from ...evaluate.metrics import _bootstrap_mean
from ...evaluate.registry import register_metric
from ..text.metrics import distinct_n
from ..text.sources import is_cjk, units
from .matching import recall_at_1, train_matcher

_MATCHERS: dict[tuple, object] = {}  # (data fingerprint, steps, seed) -> its trained matcher; the last two kept


def matcher(ctx):
    """The matching model of the evaluation's data, trained on its training pairs (steps: ctx.train_steps or
    1,500) once a process: the samples, the floor and every sanity condition meet the same judge."""
    key = (ctx.data.fingerprint, ctx.train_steps or 1500, ctx.seed)
    if key not in _MATCHERS:
        while len(_MATCHERS) >= 2:
            _MATCHERS.pop(next(iter(_MATCHERS)))
        _MATCHERS[key] = train_matcher(ctx.data.tensor("train"), ctx.data.vocab_size, key[1], seed=ctx.seed)
    return _MATCHERS[key]


@register_metric(
    "relevance",
    modalities=("dialog",),
    better="higher",
    figures=("r_at_1",),
    help="recall at 1: a matching model trained on the data ranks the answer above 19 answers to other "
    "held-out questions (chance 0.05)",
)
def relevance(ctx, side) -> dict:
    hits = recall_at_1(matcher(ctx), side.stored, ctx.data.tensor("test"), seed=ctx.seed).double()
    return {"r_at_1": {"value": float(hits.mean()), "interval": _bootstrap_mean(hits, 200, ctx.seed)}}


def by_question(side) -> dict[str, list[str]]:
    """question -> the side's answers to it."""
    out = defaultdict(list)
    for s in side.strings:
        out[s.question].append(str(s))
    return out


@register_metric(
    "answer_bleu",
    modalities=("dialog",),
    better="higher",
    floor=False,
    figures=("bleu_precision", "bleu_recall"),
    help="sentence BLEU of each question's answers against its held-out answers: precision (each answer's best "
    "match) and recall (each held-out answer's best); 0-1",
)
def answer_bleu(ctx, side) -> dict:
    # deferred: sacrebleu is slow to import; only these figures need it
    from sacrebleu.metrics import BLEU

    refs = defaultdict(list)
    for q, a in ctx.data.test_pairs:
        refs[q].append(a)
    bleu = BLEU(tokenize="zh" if is_cjk([a for _, a in ctx.data.test_pairs]) else "13a", effective_order=True)
    precision, recall = [], []
    for q, hyps in by_question(side).items():
        if q not in refs:
            continue
        grid = np.array([[bleu.sentence_score(h, [r]).score / 100 for r in refs[q]] for h in hyps])  # [hyps, refs]
        precision.append(grid.max(1).mean())
        recall.append(grid.max(0).mean())
    out = {}
    for name, vals in (("bleu_precision", precision), ("bleu_recall", recall)):
        v = torch.tensor(vals, dtype=torch.float64)
        out[name] = {"value": float(v.mean()) if len(v) else 0.0, "questions": len(v),
                     "interval": _bootstrap_mean(v, 200, ctx.seed) if len(v) > 1 else None}  # fmt: skip
    return out


@register_metric(
    "distinct_within",
    modalities=("dialog",),
    better="higher",
    floor=False,
    figures=("distinct_within_1", "distinct_within_2"),
    help="distinct unigrams / bigrams among one question's answers, averaged over questions with several",
)
def distinct_within(ctx, side) -> dict:
    groups = [g for g in by_question(side).values() if len(g) > 1]
    return {
        f"distinct_within_{n}": {
            "value": float(np.mean([distinct_n(g, n)["value"] for g in groups])) if groups else 0.0,
            "questions": len(groups),
        }  # fmt: skip
        for n in (1, 2)
    }


@register_metric(
    "length_gap",
    modalities=("dialog",),
    help="|mean answer length - the training answers' mean| / the training mean (words; CJK: characters)",
)
def length_gap(ctx, side) -> dict:
    if "answer_length" not in ctx.cache:
        train = [a for _, a in ctx.data.train_pairs]
        cjk = is_cjk(train)
        ctx.cache["answer_length"] = (float(np.mean([len(units(a, cjk)) for a in train])), cjk)
    mean, cjk = ctx.cache["answer_length"]
    mine = float(np.mean([len(units(str(s), cjk)) for s in side.strings]))
    return {"length_gap": {"value": abs(mine - mean) / mean, "mean_length": mine, "data_mean_length": mean}}
