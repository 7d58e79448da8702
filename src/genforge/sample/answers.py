"""Answers to questions a user types (families with the `answer` ability: dialog-cvae, dialog-gan)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import DataError
from ..modalities import modality_of
from ..models.base import Family
from ..safety.guard import GuardReport, guarded
from .sampling import need


@torch.no_grad()
def answer_pairs(
    model: Family,
    questions: list[str],
    n: int = 5,
    seed: int = 0,
    label: Optional[int] = None,
    allow_copies: bool = False,
    screen: bool = True,
) -> tuple[list, Optional[np.ndarray], GuardReport, torch.Tensor]:
    """(samples, labels or None, the guards' report, the question of each sample [k]): n answers to each
    question, a question's side by side, each sample an answer that carries its question; near copies of
    training answers (unless `allow_copies`) and screened answers (unless not `screen`) are drawn again, as
    `genforge sample` does. A conditional model answers as class `label`, or as classes drawn from the training
    mix."""
    need(model, "answer", "answering questions")
    if not questions:
        raise DataError("no question to answer: expected at least one")
    mod = modality_of(model)
    try:
        q = torch.cat([mod.from_upload(t.encode("utf-8"), model.shape, model.codec) for t in questions])
    except ValueError as e:
        raise DataError(str(e)) from None
    y = model.labels(len(questions), torch.Generator().manual_seed(seed), label)
    q, y = q.repeat_interleave(n, 0), None if y is None else y.repeat_interleave(n, 0)

    def draw(idx: torch.Tensor, s: int):
        gen = torch.Generator().manual_seed(s)
        return model.eval().answer(q[idx], None if y is None else y[idx], gen), None if y is None else y[idx]

    samples, labels, report, kept = guarded(model, draw, len(q), seed, allow_copies, screen)
    return samples, labels, report, kept // n


def answers(
    model: Family, questions: list[str], n: int = 5, seed: int = 0, label: Optional[int] = None, **guards
) -> list[dict]:
    """[{"question": the question as typed, "answers": [up to n strings]}] a question (`guards`: allow_copies,
    screen, as for answer_pairs)."""
    samples, _, _, of = answer_pairs(model, questions, n, seed, label, **guards)
    return [{"question": t, "answers": [str(s) for s, i in zip(samples, of.tolist()) if i == k]}
            for k, t in enumerate(questions)]  # fmt: skip


def read_questions(path: Path) -> list[str]:
    """The questions of a file, one a line (blank lines skipped); errors name the file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"--input {path}: cannot read it as UTF-8 text ({e})") from None
    questions = [x.strip() for x in lines if x.strip()]
    if not questions:
        raise DataError(f"--input {path}: no questions in it (expected one a line)")
    return questions
