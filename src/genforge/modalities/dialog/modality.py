"""Dialog: pairs stored as token ids [N, 2, L] (question, answer), samples as answers that know their question,
.jsonl / .txt files."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import DataError, RunError
from ...io import atomic_write
from ..base import Modality, register_modality
from ..text.modality import TextBackbone, TextModality, escape_line, trigram_vectors, unescape_line
from ..text.sources import clean
from ..text.textset import decode, encode
from .pairset import DialogData, DialogDataConfig, load_dialog
from .report import dialog_report, format_dialog_report

SIDES = ("question", "answer")  # the rows of a stored pair


class Exchange(str):
    """An answer (the string itself, which every text figure reads) and the question it answers."""

    question: str

    def __new__(cls, answer: str, question: str):
        obj = super().__new__(cls, answer)
        obj.question = question
        return obj

    def __reduce__(self):
        return Exchange, (str(self), self.question)


def exchanges(codec, stored: torch.Tensor) -> list[Exchange]:
    """Stored pairs [N, 2, L] -> answers carrying their questions."""
    questions, answers = decode(codec, stored[:, 0]), decode(codec, stored[:, 1])
    return [Exchange(a, q) for q, a in zip(questions, answers)]


def encode_texts(codec, texts: list[str], length: int, what: str = "question") -> torch.Tensor:
    """Questions (or answers: `what`) -> ids [N, length] (cleaned as the data is; cut to the model's length); an
    empty one is an error naming it."""
    texts = [clean(t, Counter()) for t in texts]
    for i, t in enumerate(texts):
        if not t:
            raise DataError(f"{what} {i + 1} is empty: expected some words")
    return torch.from_numpy(encode(codec, texts, length - 1, cut=True)[0])


class PairBackbone(nn.Module):
    """Pairs [B, 2, L] -> features [B, 128]: the text backbone of the answer. What the answer says is judged
    here; whether it answers its question is the matching model's figure (relevance)."""

    def __init__(self, vocab: int):
        super().__init__()
        self.text = TextBackbone(vocab)

    def forward(self, ids):
        return self.text(ids[:, 1])


@register_modality
class DialogModality(Modality):
    name = "dialog"
    DataConfig = DialogDataConfig
    unit = "answer"
    # about one answer a held-out question of the built-in sets (91 English, 58 Chinese): the floor, those
    # questions' real answers, is then at the samples' count (FD, coverage and distinct-n fall as N grows)
    default_samples = 100
    out_help = ".jsonl (question, answer, and category when conditional) or .txt (question<TAB>answer a line)"
    preview_suffix = ".txt"
    preview_media = "text/plain; charset=utf-8"
    formats = ("json", "txt")
    preview_count = 16
    item_files = ".txt"

    def load(self, cfg, run=None) -> DialogData:
        return load_dialog(cfg, run)

    save_codec = TextModality.save_codec
    codec = TextModality.codec

    def report(self, data) -> dict:
        return dialog_report(data)

    def format_report(self, rep: dict) -> str:
        return format_dialog_report(rep)

    def to_model(self, stored):
        return stored.long()

    def to_stored(self, out):
        return out.detach().long().cpu()

    def to_samples(self, stored, codec=None) -> list[Exchange]:
        return exchanges(codec, stored)

    def reread(self, stored, codec=None):
        """Each side's text tokenized anew (as the text modality does: a model may spell with other pieces)."""
        if codec is None:
            return stored
        sides = [encode(codec, decode(codec, stored[:, s]), stored.shape[2] - 1, cut=True)[0] for s in (0, 1)]
        return torch.from_numpy(np.stack(sides, 1))

    def write(self, samples, out, labels=None, nrow=None, class_names=None) -> Path:
        """`.jsonl`: {"question", "answer", "category"} objects; `.txt`: question TAB answer, a line."""
        out = Path(out)
        names = None if labels is None else [class_names[int(i)] if class_names else int(i) for i in labels]
        if out.suffix.lower() == ".txt":  # cleaned text holds no tab: it parts the two sides
            body = "".join(f"{escape_line(s.question)}\t{escape_line(s)}\n" for s in samples)
        elif out.suffix.lower() == ".jsonl":
            body = "".join(
                json.dumps({"question": s.question, "answer": str(s)} | ({"category": names[i]} if names else {}),
                           ensure_ascii=False) + "\n"
                for i, s in enumerate(samples)
            )  # fmt: skip
        else:
            raise RunError(f"--out {out}: a dialog model writes {self.out_help}")
        atomic_write(out, body.encode())
        return out

    def read(self, path, data):
        """A file `write` wrote: .jsonl objects with question and answer (and category), or .txt lines of
        question TAB answer; pairs are cut to the data's max_tokens."""
        path, labels = Path(path), None
        lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        try:
            if path.suffix.lower() == ".jsonl":
                rows = [json.loads(x) for x in lines]
                pairs = [(r["question"], r["answer"]) for r in rows]
                if rows and data.class_names and all("category" in r for r in rows):
                    labels = torch.tensor([data.class_names.index(str(r["category"])) for r in rows])
            else:
                pairs = [tuple(unescape_line(side) for side in x.split("\t", 1)) for x in lines]
                if any(len(p) != 2 for p in pairs):
                    raise ValueError("a line without a tab between question and answer")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise DataError(
                f"{path}: expected JSON objects with 'question' and 'answer' a line, or question<TAB>answer lines ({e})"
            ) from None
        length = data.train.shape[2]
        sides = [encode_texts(data.codec, [p[s] for p in pairs], length, what) for s, what in enumerate(SIDES)]
        return torch.stack(sides, 1), labels

    def preview(self, samples, nrow=None, labels=None) -> bytes:
        tag = lambda i: f"[{labels[i]}] " if labels else ""  # noqa: E731
        return "".join(f"{tag(i)}Q: {s.question}\n   A: {s}\n" for i, s in enumerate(samples)).encode()

    def html(self, samples, nrow=None, labels=None, caption="") -> str:
        head = "<tr><th>#</th>" + ("<th>category</th>" if labels else "") + "<th>question</th><th>answer</th></tr>"
        rows = "".join(
            f"<tr><td>{i}</td>"
            + (f"<td>{html.escape(str(labels[i]))}</td>" if labels else "")
            + f"<td class='text'>{html.escape(s.question)}</td><td class='text'>{html.escape(s)}</td></tr>"
            for i, s in enumerate(samples)
        )
        cap = f"<p>{html.escape(caption)}</p>" if caption else ""
        return f"{cap}<table class='texts'>{head}{rows}</table>"

    preview_html = TextModality.preview_html

    def response(self, samples, fmt, nrow=None, labels=None):
        # deferred: only the server's answers need fastapi
        from fastapi.responses import JSONResponse, PlainTextResponse

        if fmt == "txt":
            return PlainTextResponse("".join(f"{s.question}\t{s}\n" for s in samples))
        pairs = [{"question": s.question, "answer": str(s)} for s in samples]
        return JSONResponse({"pairs": pairs} | ({"labels": labels} if labels else {}))

    def from_upload(self, body: bytes, shape, codec=None) -> torch.Tensor:
        """A question's bytes -> ids [1, L]."""
        return encode_texts(codec, [body.decode("utf-8")], shape[1])

    def backbone(self, data) -> nn.Module:
        return PairBackbone(data.vocab_size)

    augment = TextModality.augment  # token dropout, on both sides
    screen = TextModality.screen  # of the answers: a sample is its answer's string

    def memo_vectors(self, stored, codec=None):
        """The answers' hashed character 3-grams (the text modality's near-copy vectors)."""
        return trigram_vectors(decode(codec, stored[:, 1]))

    def sanity_conditions(self, data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """name -> stored pairs [n', 2, L] with a known fault, and the retrieval baseline: answers moved to other
        questions, one generic answer for every question, the question echoed back, training pairs."""
        rng = np.random.default_rng(seed)
        test = data.tensor("test")
        idx = torch.from_numpy(rng.permutation(len(test))[: min(n, len(test))])
        real = test[idx]
        shuffled = torch.stack([real[:, 0], real[torch.roll(torch.arange(len(real)), 1), 1]], 1)
        answers = [a for _, a in data.train_pairs]
        generic = Counter(answers).most_common(1)[0][0]
        one = encode_texts(data.codec, [generic], test.shape[2], "answer")[0]
        train = data.tensor("train")
        # retrieval: the answer to the training question nearest each question (character 3-gram cosine)
        near = trigram_vectors(decode(data.codec, real[:, 0])) @ trigram_vectors([q for q, _ in data.train_pairs]).T
        retrieved = train[near.argmax(1), 1]
        return {
            "real (floor)": real,
            "retrieval: the nearest training question's answer": torch.stack([real[:, 0], retrieved], 1),
            "answers shuffled across questions": shuffled,
            "one generic answer for all": torch.stack([real[:, 0], one.expand(len(real), -1)], 1),
            "the question echoed": torch.stack([real[:, 0], real[:, 0]], 1),
            "training pairs": train[torch.from_numpy(rng.permutation(len(train))[: len(real)])],
        }
