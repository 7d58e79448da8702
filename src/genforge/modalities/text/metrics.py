"""Figures of text samples: distinct-n (Li et al. 2016) and self-BLEU (Zhu et al. 2018) for diversity, and
the share of invented words for spelling.

Words are whitespace-separated tokens, except for text in a script written without
spaces (Chinese, Japanese), where each character is a unit; self-BLEU uses
sacrebleu's matching tokenizer ('13a', or 'zh' for Chinese).

Invented words: with no dictionary to hand (and none that fits every data set), the training text is the
lexicon. A sample word (a run of letters, apostrophes inside, lower-cased) that no training text contains is
invented or misspelt; in Chinese or Japanese, where words are not delimited, the unit is a pair of adjacent
characters never seen side by side in training. Held-out text has its own unseen words (names, rare words),
which is the floor the samples' share is read against.
"""

from __future__ import annotations

import numpy as np
import torch

from ...evaluate.metrics import _bootstrap_mean
from ...evaluate.registry import register_metric
from .lm_perplexity import lm_perplexities
from .sources import is_cjk, lexicon, units, words


def distinct_n(texts: list[str], n: int) -> dict:
    """Distinct n-grams / all n-grams over the whole sample set.

    No interval: the ratio falls as the sample count grows, and a bootstrap (which repeats
    texts) is biased low; the floor is computed at the same count, so compare with it."""
    cjk = is_cjk(texts)
    pool = [tuple(u[i : i + n]) for u in (units(t, cjk) for t in texts) for i in range(len(u) - n + 1)]
    return {"value": len(set(pool)) / max(len(pool), 1), "units": "characters" if cjk else "words"}


def self_bleu(texts: list[str], n_max: int = 300, seed: int = 0) -> dict:
    """Mean sentence BLEU of each of up to n_max texts against all the others (0-100; higher = less diverse)."""
    # deferred: sacrebleu is slow to import; only self-BLEU needs it
    from sacrebleu.metrics import BLEU

    rng = np.random.default_rng(seed)
    pick = [texts[i] for i in rng.permutation(len(texts))[:n_max]]
    bleu = BLEU(tokenize="zh" if is_cjk(pick) else "13a", effective_order=True)
    scores = torch.tensor(
        [bleu.sentence_score(h, pick[:i] + pick[i + 1 :]).score for i, h in enumerate(pick)], dtype=torch.float64
    )
    return {"value": float(scores.mean()), "interval": _bootstrap_mean(scores, 200, seed), "n": len(pick)}


def invented_share(texts: list[str], known: set[str], cjk: bool, draws: int = 200, seed: int = 0) -> dict:
    """Share of the texts' words that the lexicon `known` lacks, with a bootstrap interval over words."""
    flags = torch.tensor([w not in known for t in texts for w in words(t, cjk)], dtype=torch.float64)
    if not len(flags):
        return {"value": 0.0, "words": 0}
    return {"value": float(flags.mean()), "interval": _bootstrap_mean(flags, draws, seed), "words": len(flags)}


@register_metric(
    "distinct",
    modalities=("text", "dialog"),
    needs=("strings",),
    better="higher",
    figures=("distinct_1", "distinct_2"),
    help="distinct unigrams / bigrams over all samples",
)
def distinct(ctx, side) -> dict:
    return {f"distinct_{n}": distinct_n(side.strings, n) for n in (1, 2)}


@register_metric(
    "invented_words",
    modalities=("text", "dialog"),
    needs=("strings",),
    help="share of sample words no training text contains (invented or misspelt; CJK: unseen character pairs)",
)
def invented_words(ctx, side) -> dict:
    if "lexicon" not in ctx.cache:  # the training text's words, once per evaluation (the floor reuses them)
        train = ctx.modality.to_samples(ctx.data.tensor("train"), ctx.data.codec)
        cjk = is_cjk(train)
        ctx.cache["lexicon"] = (lexicon(train, cjk), cjk)
    known, cjk = ctx.cache["lexicon"]
    return {"invented_words": invented_share(side.strings, known, cjk, seed=ctx.seed)}


@register_metric(
    "self_bleu",
    modalities=("text", "dialog"),
    needs=("strings",),
    help="mean BLEU of each sample against the others (sacrebleu; lower = more diverse)",
)
def self_bleu_metric(ctx, side) -> dict:
    return {"self_bleu": self_bleu(side.strings, seed=ctx.seed)}


@register_metric(
    "lm_perplexity",
    modalities=("text",),
    floor=False,
    figures=("forward_ppl", "reverse_ppl"),
    help="perplexity of samples under an LM of the data (forward) and of the data under an LM of the samples",
)
def lm_perplexity(ctx, side) -> dict:
    return lm_perplexities(ctx.data, side.stored, ctx.train_steps, ctx.seed, ctx.floors)
