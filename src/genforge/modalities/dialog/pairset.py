"""Dialog preprocessing: exact duplicates dropped, a split by conversation, one SentencePiece tokenizer for
both sides (the text modality's), token tensors.

Stored form: int64 token ids [N, 2, L] with L = max_tokens + 1: row 0 is the question, row 1 the answer, each
the text modality's stored row (pieces, EOS, PAD). A pair with a side longer than max_tokens is dropped and
named (a truncated answer teaches the model to stop mid-way).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from pydantic import Field

from ...config import BaseDataConfig
from ...data.base import Parts, find_source, seeded_split
from ...errors import DataError
from ..text.textset import TOKENIZER_FILE, Tokenized, encode, load_tokenizer, train_tokenizer
from .sources import RawPairs


class DialogDataConfig(BaseDataConfig):
    """Question-answer pairs: a built-in conversation set, a table of pairs or a folder of YAML."""

    source: str = Field(
        "conversations",
        description="`conversations`, `conversations-zh`, or a path: .csv/.jsonl with question and answer columns "
        "(and category), a folder of ChatterBot-style .yml",
    )
    max_tokens: int = Field(
        40, ge=4, le=512, description="longest question or answer in tokens (EOS excluded); longer pairs are dropped"
    )
    vocab_size: int = Field(3000, ge=64, le=65536, description="tokenizer vocabulary (an upper bound on small data)")
    tokenizer: str = Field("unigram", pattern="^(unigram|bpe|char)$", description="SentencePiece model type")
    dedupe: bool = Field(
        True, description="drop exact repeats of a pair (the English tech-support file repeats 10 pairs 105 times)"
    )


@dataclass(kw_only=True)
class DialogData(Tokenized):
    """A preprocessed pair set: token arrays int64 [N, 2, L], the texts, the tokenizer."""

    train_pairs: list[tuple[str, str]]
    test_pairs: list[tuple[str, str]]

    modality = "dialog"

    @property
    def shape(self) -> tuple[int, int, int]:
        """(2 sides, tokens per side, vocabulary) is what models see; stored rows are [2, L]."""
        return 2, self.train.shape[2], self.vocab_size


def dedupe(raw: RawPairs) -> tuple[np.ndarray, int, int]:
    """(indices of the first of each distinct (question, answer, category), repeats dropped, pairs repeated)."""
    seen: dict = {}
    count: Counter = Counter()
    for i, key in enumerate(zip(raw.questions, raw.answers, raw.categories)):
        seen.setdefault(key, i)
        count[key] += 1
    keep = np.array(sorted(seen.values()), dtype=np.int64)
    return keep, len(raw.questions) - len(keep), sum(c > 1 for c in count.values())


def conversation_split(raw: RawPairs, keep: np.ndarray, cfg) -> tuple[np.ndarray, np.ndarray, str]:
    """(train pair indices, test pair indices, description): whole conversations go to one side."""
    convs = np.asarray(raw.conversations)[keep]
    ids = np.unique(convs)
    tr_c, te_c, split = seeded_split(len(ids), cfg, "conversation")
    test = np.isin(convs, ids[te_c])
    return keep[~test], keep[test], split.replace("seeded", "by conversation, seeded")


def encode_pairs(tok, questions: list[str], answers: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N', 2, max_tokens + 1], kept [N] bool): pairs with a side over max_tokens dropped."""
    q, keep_q = encode(tok, questions, max_tokens)
    a, keep_a = encode(tok, answers, max_tokens)
    keep = keep_q & keep_a
    return np.stack([q[keep[keep_q]], a[keep[keep_a]]], 1), keep


def preprocess_dialog(raw: RawPairs, cfg, tokenizer_bytes: Optional[bytes] = None) -> DialogData:
    """Dedupe, split by conversation, limit, tokenize (training the tokenizer unless given), drop long pairs."""
    keep, repeats, repeated = dedupe(raw) if cfg.dedupe else (np.arange(len(raw.questions)), 0, 0)
    tr, te, split = conversation_split(raw, keep, cfg)
    if cfg.limit is not None:
        tr = tr[: cfg.limit]
    labels, class_names = raw.labelled()
    pick = lambda idx, items: [items[i] for i in idx]  # noqa: E731
    blob = tokenizer_bytes or train_tokenizer(
        pick(tr, raw.questions) + pick(tr, raw.answers), cfg.tokenizer, cfg.vocab_size
    )
    tok = load_tokenizer(blob)
    arrays, kept, too_long = [], [], 0
    for idx in (tr, te):
        ids, ok = encode_pairs(tok, pick(idx, raw.questions), pick(idx, raw.answers), cfg.max_tokens)
        for i in idx[~ok]:
            raw.problems.append((raw.where[i], f"dropped: a side is over data.max_tokens={cfg.max_tokens} tokens"))
        too_long += int((~ok).sum())
        arrays.append(ids)
        kept.append(idx[ok])
    for name, ids in zip(("training", "test"), arrays):
        if len(ids) == 0:
            raise DataError(f"{cfg.source}: no pair of the {name} split fits data.max_tokens={cfg.max_tokens}")
    tr, te = kept
    train_q = set(pick(tr, raw.questions))
    summary = raw.summary | {
        "cleaned": dict(raw.cleaned),
        "repeated_pairs_dropped": repeats,
        "repeated_pair_groups": repeated,
        "dropped_too_long": too_long,
        "test_questions_in_train": int(sum(q in train_q for q in pick(te, raw.questions))),
    }
    lab = None if labels is None else np.asarray(labels, dtype=np.int64)
    parts = Parts(arrays[0], arrays[1], None if lab is None else lab[tr], None if lab is None else lab[te],
                  pick(tr, raw.where), split, cfg.limit)  # fmt: skip
    prep = {
        "max_tokens": cfg.max_tokens,
        "tokenizer": cfg.tokenizer,
        "vocab_size": cfg.vocab_size,
        "dedupe": cfg.dedupe,
    }
    hashed = [arrays[0], arrays[1], parts.train_labels, np.frombuffer(blob, np.uint8)]
    return DialogData.build(
        raw, parts, prep, hashed, class_names=class_names, summary=summary, tokenizer_bytes=blob,
        train_pairs=list(zip(pick(tr, raw.questions), pick(tr, raw.answers))),
        test_pairs=list(zip(pick(te, raw.questions), pick(te, raw.answers))),
    )  # fmt: skip


def load_dialog(cfg, run: Optional[Path] = None) -> DialogData:
    """Read `cfg.source` with the dialog source that recognises it, then preprocess; a run's own tokenizer
    (RUN/tokenizer.model) is reused so its token ids mean what they meant in training."""
    raw = find_source(cfg.source, "dialog").load(cfg.source, cfg)
    blob = None
    if run is not None and (Path(run) / TOKENIZER_FILE).is_file():
        blob = (Path(run) / TOKENIZER_FILE).read_bytes()
    return preprocess_dialog(raw, cfg, blob)
