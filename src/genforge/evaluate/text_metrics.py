"""Diversity figures of text samples: distinct-n (Li et al. 2016) and self-BLEU (Zhu et al. 2018).

Words are whitespace-separated tokens, except for text in a script written without
spaces (Chinese, Japanese), where each character is a unit; self-BLEU uses
sacrebleu's matching tokenizer ('13a', or 'zh' for Chinese).
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.text import is_cjk, units
from .metrics import _bootstrap_mean


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
