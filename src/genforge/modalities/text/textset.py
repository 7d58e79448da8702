"""Text preprocessing: split, a SentencePiece tokenizer trained on the training split, token tensors.

Stored form: int64 token ids [N, L] with L = max_tokens + 1; each row is the
sample's pieces, then EOS, then PAD (0). Samples longer than max_tokens are
dropped and counted (a truncated sentence teaches the model to stop mid-way).
The tokenizer (unigram, BPE or characters; character coverage 0.9995 so
Chinese characters are kept) is deterministic for the same text and settings;
its bytes are part of the fingerprint and it is cached by that recipe.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import sentencepiece as spm
import torch

from ...data.base import Parts, SplitData, find_source, split_items, take
from ...errors import DataError
from ...io import atomic_write
from .sources import RawText

PAD, UNK, BOS, EOS = 0, 1, 2, 3
TOKENIZER_FILE = "tokenizer.model"


def _cache() -> Path:
    return Path(os.environ.get("GENFORGE_CACHE", Path.home() / ".cache" / "genforge")) / "tokenizers"


def load_tokenizer(blob: bytes):
    """A SentencePieceProcessor from the bytes of its model file (a protobuf, never code)."""
    return spm.SentencePieceProcessor(model_proto=blob)


def train_tokenizer(texts: list[str], kind: str, vocab_size: int) -> bytes:
    """The bytes of a SentencePiece model trained on `texts` (cached by texts + settings)."""
    h = hashlib.sha256(json.dumps([kind, vocab_size, 1]).encode())
    for t in texts:
        h.update(t.encode() + b"\0")
    path = _cache() / f"{h.hexdigest()[:20]}.model"
    if path.is_file():
        return path.read_bytes()
    buf = io.BytesIO()
    freq = np.sort(np.array(list(Counter("".join(texts)).values()), dtype=np.float64))[::-1]
    # Characters the vocabulary must hold: 99.95% of all characters (SentencePiece's advice for CJK), but at
    # most three quarters of the vocabulary, so a script with thousands of characters (Chinese) still fits;
    # the rarest characters become UNK, whose share `data inspect` reports.
    # SentencePiece accepts coverage in [0.98, 1]; at 0.98 the vocabulary grows to hold those characters.
    coverage = max(0.98, min(0.9995, float(freq[: int(0.75 * vocab_size)].sum() / freq.sum())))
    vocab_size = max(vocab_size, int(np.searchsorted(np.cumsum(freq) / freq.sum(), coverage)) + 8)
    # a small corpus cannot fill a large vocabulary: hard_vocab_limit=False lets it stop short
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=buf,
        model_type=kind,
        vocab_size=vocab_size if kind != "char" else len(freq) + 4,
        hard_vocab_limit=False,
        character_coverage=coverage if kind != "char" else 1.0,
        pad_id=PAD,
        unk_id=UNK,
        bos_id=BOS,
        eos_id=EOS,
        num_threads=1,
        minloglevel=2,
        max_sentence_length=1 << 16,
        normalization_rule_name="identity",
        split_digits=True,
        byte_fallback=False,
    )
    blob = buf.getvalue()
    atomic_write(path, blob)
    return blob


def encode(tok, texts: list[str], max_tokens: int, cut: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(ids [N', max_tokens + 1] EOS-terminated and 0-padded, kept [N] bool): samples over max_tokens dropped,
    or with `cut` kept with their first max_tokens pieces."""
    pieces = tok.encode(texts)
    pieces = [p[:max_tokens] for p in pieces] if cut else pieces
    keep = np.array([len(p) <= max_tokens for p in pieces], dtype=bool)
    out = np.zeros((int(keep.sum()), max_tokens + 1), dtype=np.int64)
    for row, p in enumerate(p for p, k in zip(pieces, keep) if k):
        out[row, : len(p)] = p
        out[row, len(p)] = EOS
    return out, keep


def decode(tok, ids: torch.Tensor | np.ndarray) -> list[str]:
    """Token ids [N, L] -> strings, each cut at its first EOS (or PAD)."""
    rows = []
    for r in np.asarray(ids).tolist():
        end = next((i for i, t in enumerate(r) if t in (EOS, PAD)), len(r))
        rows.append([t for t in r[:end] if t > EOS])
    return tok.decode(rows)


@dataclass(kw_only=True)
class Tokenized(SplitData):
    """A data set of token ids with its SentencePiece tokenizer (the codec), kept as the model file's bytes."""

    tokenizer_bytes: bytes

    def __post_init__(self):
        self.codec = load_tokenizer(self.tokenizer_bytes)

    @property
    def vocab_size(self) -> int:
        return self.codec.get_piece_size()

    def tensor(self, split: str = "train", device="cpu") -> torch.Tensor:
        return torch.from_numpy(self.train if split == "train" else self.test).to(device)


@dataclass(kw_only=True)
class TextData(Tokenized):
    """A preprocessed text data set: token arrays int64 [N, L], the texts they came from, the tokenizer."""

    train_text: list[str]
    test_text: list[str]

    modality = "text"

    @property
    def shape(self) -> tuple[int, int]:
        """(vocabulary, tokens per sample): the one-hot layout models see."""
        return self.vocab_size, self.train.shape[1]


def preprocess_text(raw: RawText, cfg, tokenizer_bytes: Optional[bytes] = None) -> TextData:
    """Split, limit, tokenize (training the tokenizer unless given) and drop over-long samples."""
    tr, te, split = split_items(len(raw.texts), None, cfg, "sample")
    labels = None if raw.labels is None else np.asarray(raw.labels, dtype=np.int64)
    train_text, test_text = take(raw.texts, tr), take(raw.texts, te)
    blob = tokenizer_bytes or train_tokenizer(train_text, cfg.tokenizer, cfg.vocab_size)
    tok = load_tokenizer(blob)
    train, keep_tr = encode(tok, train_text, cfg.max_tokens)
    test, keep_te = encode(tok, test_text, cfg.max_tokens)
    for split, ids in (("training", train), ("test", test)):
        if len(ids) == 0:
            raise DataError(
                f"{cfg.source}: every sample of the {split} split is longer than "
                f"data.max_tokens={cfg.max_tokens} tokens; raise it"
            )
    summary = dict(raw.summary)
    summary["dropped_too_long"] = int((~keep_tr).sum() + (~keep_te).sum())
    train_text = [t for t, k in zip(train_text, keep_tr) if k]
    test_text = [t for t, k in zip(test_text, keep_te) if k]
    train_labels = test_labels = None
    class_names = raw.class_names
    if labels is not None:
        train_labels, test_labels = labels[tr][keep_tr], labels[te][keep_te]
        # a class with no training sample left (all too long) cannot be learned: drop it and its test samples
        present = np.unique(train_labels)
        if len(present) < len(class_names):
            summary["dropped_classes"] = [class_names[i] for i in range(len(class_names)) if i not in present]
            remap = np.full(len(class_names), -1)
            remap[present] = np.arange(len(present))
            keep = remap[test_labels] >= 0
            test, test_text = test[keep], [t for t, k in zip(test_text, keep) if k]
            train_labels, test_labels = remap[train_labels], remap[test_labels[keep]]
            class_names = [class_names[i] for i in present]
    summary["cleaned"] = dict(raw.cleaned)
    prep = {"max_tokens": cfg.max_tokens, "tokenizer": cfg.tokenizer, "vocab_size": cfg.vocab_size}
    parts = Parts(train, test, train_labels, test_labels, None, split, cfg.limit)
    hashed = [train, test, train_labels, np.frombuffer(blob, np.uint8)]
    return TextData.build(
        raw, parts, prep, hashed, class_names=class_names, summary=summary, train_text=train_text,
        test_text=test_text, tokenizer_bytes=blob,
    )  # fmt: skip


def load_text(cfg, run: Optional[Path] = None) -> TextData:
    """Read `cfg.source` with the text source that recognises it, then preprocess; a run's own
    tokenizer (RUN/tokenizer.model) is reused so its token ids mean what they meant in training."""
    raw = find_source(cfg.source, "text").load(cfg.source, cfg)
    blob = None
    if run is not None and (Path(run) / TOKENIZER_FILE).is_file():
        blob = (Path(run) / TOKENIZER_FILE).read_bytes()
    return preprocess_text(raw, cfg, blob)
