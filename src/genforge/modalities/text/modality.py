"""Text: token ids [N, L] stored (EOS-terminated, 0-padded), strings for users, .txt / .jsonl files."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
from pydantic import Field
from torch import nn

from ...config import BaseDataConfig
from ...errors import DataError, RunError
from ...io import atomic_write, fig_png, img_tag
from ..base import Modality, register_modality
from .report import format_text_report, text_report
from .sources import clean, is_cjk, units
from .textset import EOS, TOKENIZER_FILE, UNK, decode, encode, load_text, load_tokenizer


def misspelt(text: str, rng: np.random.Generator) -> str:
    """A typo in every word of four letters or more, two inner letters swapped ("wrod"); in CJK text, every
    third character trades places with the next."""
    chars = list(text)
    if is_cjk([text]):
        for i in range(0, len(chars) - 1, 3):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        return "".join(chars)
    for m in re.finditer(r"[^\W\d_]{4,}", text):
        i = m.start() + 1 + int(rng.integers(m.end() - m.start() - 3))  # an inner pair, first and last kept
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


class TextDataConfig(BaseDataConfig):
    """Text data: one sample is a line, an entry between separator lines, or a CSV/JSONL cell."""

    source: str = Field(
        "fortunes", description="`fortunes`, `fortunes-zh`, or a path: .txt file, folder of .txt files, .csv, .jsonl"
    )
    separator: Optional[str] = Field(
        None, description="a line holding only this text ends a sample (e.g. %); None: one sample per line"
    )
    text_column: str = Field("text", description="CSV/JSONL: the column (key) holding the text")
    label_column: Optional[str] = Field(
        None, description="CSV/JSONL: the column holding a class label; None: unlabelled"
    )
    max_tokens: int = Field(
        48, ge=4, le=1024, description="longest sample in tokens (EOS excluded); longer ones are dropped and counted"
    )
    vocab_size: int = Field(4000, ge=64, le=65536, description="tokenizer vocabulary (an upper bound on small data)")
    tokenizer: Literal["unigram", "bpe", "char"] = Field(
        "unigram", description="SentencePiece model trained on the training split"
    )


FEATURE_DIM = 128
MEMO_FEATURES = 2**12  # hashed character 3-grams


class TextBackbone(nn.Module):
    """Token ids [B, L] -> features [B, 128]: embedding, two 1-D convolutions (widths 3 and 5), then
    max and mean pooling over the non-padding positions. Works for any language the tokenizer covers."""

    def __init__(self, vocab: int, dim: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.conv = nn.Sequential(
            nn.Conv1d(dim, dim, 3, padding=1), nn.ReLU(), nn.Conv1d(dim, dim, 5, padding=2), nn.ReLU()
        )
        self.out = nn.Linear(2 * dim, FEATURE_DIM)

    def forward(self, ids):
        mask = (ids > 0).unsqueeze(1).float()  # [B, 1, L]
        h = self.conv(self.embed(ids).transpose(1, 2)) * mask  # [B, dim, L]
        mx = (h - 1e4 * (1 - mask)).amax(2)  # [B, dim]
        mean = h.sum(2) / mask.sum(2).clamp_min(1)  # [B, dim]
        return self.out(torch.cat([mx, mean], 1))  # [B, 128]


def escape_line(text: str) -> str:
    """A sample as one line of a .txt file: backslashes doubled, newlines written as backslash-n."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def unescape_line(line: str) -> str:
    """What `escape_line` wrote, undone: backslash-n is a newline inside a sample, two backslashes one."""
    return re.sub(r"\\(\\|n)", lambda m: "\n" if m.group(1) == "n" else "\\", line)


def trigram_vectors(texts: list[str]) -> torch.Tensor:
    """Unit vectors [N, 4096] of hashed character 3-gram counts: L2 distance is a monotone map of cosine
    similarity (near-copy vectors of text)."""
    # deferred: scikit-learn is slow to import; only near-copy vectors of text need it
    from sklearn.feature_extraction.text import HashingVectorizer

    vec = HashingVectorizer(
        analyzer="char", ngram_range=(3, 3), n_features=MEMO_FEATURES, alternate_sign=False, norm="l2"
    )
    return torch.from_numpy(vec.transform(texts).toarray().astype(np.float32))


@register_modality
class TextModality(Modality):
    name = "text"
    DataConfig = TextDataConfig
    unit = "text"
    default_samples = 2000
    out_help = ".txt (one sample a line, newlines escaped) or .jsonl (text, and label when conditional)"
    preview_suffix = ".txt"
    preview_media = "text/plain; charset=utf-8"
    formats = ("json", "txt")
    preview_count = 16
    item_files = ".txt"

    def load(self, cfg, run=None):
        return load_text(cfg, run)

    def save_codec(self, codec, folder: Path) -> None:
        atomic_write(Path(folder) / TOKENIZER_FILE, codec.serialized_model_proto())

    def codec(self, run: Path):
        path = Path(run) / TOKENIZER_FILE
        if not path.is_file():
            raise RunError(f"{path} is missing: a text run keeps its tokenizer there")
        return load_tokenizer(path.read_bytes())

    def report(self, data) -> dict:
        return text_report(data)

    def format_report(self, rep: dict) -> str:
        return format_text_report(rep)

    def to_model(self, stored):
        return stored.long()

    def to_stored(self, out):
        return out.detach().long().cpu()

    def to_samples(self, stored, codec=None) -> list[str]:
        return decode(codec, stored)

    def reread(self, stored, codec=None):
        """The samples' text tokenized anew. A model may spell a text with other pieces than the tokenizer's
        own (a quarter of a young language model's English samples): the text a reader gets is the same, the
        ids are not, and the evaluator's network learnt the tokenizer's spellings."""
        if codec is None:  # a model built alone: nothing to read its ids with
            return stored
        return torch.from_numpy(encode(codec, decode(codec, stored), stored.shape[1] - 1, cut=True)[0])

    def write(self, samples, out, labels=None, nrow=None, class_names=None) -> Path:
        """`.txt`: one sample a line (newlines escaped); `.jsonl`: {"text", "label"} objects."""
        out = Path(out)
        names = None if labels is None else [class_names[int(i)] if class_names else int(i) for i in labels]
        if out.suffix.lower() == ".txt":
            body = "".join(escape_line(s) + "\n" for s in samples)
        elif out.suffix.lower() == ".jsonl":
            body = "".join(
                json.dumps({"text": s} | ({"label": names[i]} if names else {}), ensure_ascii=False) + "\n"
                for i, s in enumerate(samples)
            )
        else:
            raise RunError(f"--out {out}: a text model writes {self.out_help}")
        atomic_write(out, body.encode())
        return out

    def read(self, path, data):
        """.txt: one sample a line (backslash escapes undone); .jsonl: {"text", "label"} objects, labels by
        class name or index. Samples longer than the data's max_tokens are cut to it, as a run's own samples are
        when it is evaluated: a model's sample, its text tokenized anew, can come out a few pieces longer."""
        path, labels = Path(path), None
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
        if path.suffix.lower() == ".jsonl":
            try:
                rows = [json.loads(x) for x in lines if x.strip()]
                texts = [r["text"] for r in rows]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise DataError(f"{path}: expected one JSON object with a 'text' key a line ({e})") from None
            if rows and all("label" in r for r in rows):
                names = [str(c) for c in data.class_names or []]
                try:
                    labels = torch.tensor(
                        [names.index(str(r["label"])) if str(r["label"]) in names else int(r["label"]) for r in rows]
                    )
                except ValueError:
                    raise DataError(f"{path}: labels must be class names ({', '.join(names)}) or indices") from None
        else:
            texts = [unescape_line(x) for x in lines if x.strip()]  # undo the escapes `write` adds
        texts = [clean(t, Counter()) for t in texts]  # as the data sources clean theirs
        return torch.from_numpy(encode(data.codec, texts, data.train.shape[1] - 1, cut=True)[0]), labels

    def preview(self, samples, nrow=None, labels=None) -> bytes:
        return "".join(f"{'[' + str(labels[i]) + '] ' if labels else ''}{s}\n" for i, s in enumerate(samples)).encode()

    def html(self, samples, nrow=None, labels=None, caption="") -> str:
        head = "<tr><th>#</th>" + ("<th>class</th>" if labels else "") + "<th>text</th></tr>"
        rows = "".join(
            f"<tr><td>{i}</td>"
            + (f"<td>{html.escape(str(labels[i]))}</td>" if labels else "")
            + f"<td class='text'>{html.escape(s)}</td></tr>"
            for i, s in enumerate(samples)
        )
        cap = f"<p>{html.escape(caption)}</p>" if caption else ""
        return f"{cap}<table class='texts'>{head}{rows}</table>"

    def preview_html(self, blob, caption):
        lines = blob.decode("utf-8", "replace").splitlines()[:8]
        return f"<p>{html.escape(caption)}:</p><pre>" + html.escape("\n".join(lines)) + "</pre>"

    def data_figures(self, rep):
        # deferred: matplotlib is slow to import; only figures need it
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 2.8))
        for ax, key, unit in zip(axes, ("length_chars", "length_tokens"), ("characters", "tokens")):
            h = rep[key]["hist"]
            ax.stairs(h["counts"], h["edges"], fill=True)
            ax.set_xlabel(unit), ax.set_title(f"sample length ({unit})")
        return img_tag(fig_png(fig), "length histograms")

    def response(self, samples, fmt, nrow=None, labels=None):
        # deferred: only the server's answers need fastapi
        from fastapi.responses import JSONResponse, PlainTextResponse

        if fmt == "txt":
            return PlainTextResponse("".join(s + "\n" for s in samples))
        return JSONResponse({"texts": list(samples)} | ({"labels": labels} if labels else {}))

    def from_upload(self, body: bytes, shape, codec=None) -> torch.Tensor:
        text = clean(body.decode("utf-8"), Counter())
        if not text:
            raise ValueError("the sentence is empty")
        ids, keep = encode(codec, [text], shape[1] - 1)
        if not keep[0]:
            raise ValueError(f"the sentence is longer than the model's {shape[1] - 1} tokens")
        return torch.from_numpy(ids)

    def backbone(self, data) -> nn.Module:
        return TextBackbone(data.vocab_size)

    def augment(self, x, strength, gen):
        """Token dropout: each piece (not EOS/PAD) becomes UNK with probability 0.25 * strength."""
        drop = (torch.rand(x.shape, generator=gen) < 0.25 * strength).to(x.device) & (x > EOS)
        return x.masked_fill(drop, UNK)

    def screen(self, samples, block_list=None):
        from .screen import screen_texts  # deferred: the classifier loads in a second; only sampling needs it

        return screen_texts(list(samples), block_list)

    def memo_vectors(self, stored, codec=None):
        return trigram_vectors(self.to_samples(stored, codec))

    def sanity_conditions(self, data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
        """name -> token-id 'samples' [n', L] with a known fault; words are characters in Chinese."""
        rng = np.random.default_rng(seed)
        pick = lambda items, m: [items[i] for i in rng.permutation(len(items))[: min(m, len(items))]]  # noqa: E731
        real = pick(data.test_text, n)
        cjk = is_cjk(real)
        join = "".join if cjk else " ".join
        shuffled = [join(rng.permutation(units(t, cjk)).tolist()) for t in real]
        vocab = sorted({u for t in data.train_text for u in units(t, cjk)})
        random_words = [join(rng.choice(vocab, max(1, len(units(t, cjk)))).tolist()) for t in real]
        out = {
            "real (floor)": real,
            "shuffled words": shuffled,
            "random dictionary words": random_words,
            "misspelt words": [misspelt(t, rng) for t in real],
        }
        if data.test_labels is not None and data.n_classes >= 2:
            out["one class only"] = pick([t for t, y in zip(data.test_text, data.test_labels) if y == 0], n)
        out["one sentence repeated"] = [real[0]] * len(real)
        out["training lines"] = pick(data.train_text, n)
        return {k: self._retokenize(data, v) for k, v in out.items()}

    def _retokenize(self, data, texts: list[str]) -> torch.Tensor:
        """Strings -> stored token ids of `data` (ones over max_tokens dropped)."""
        return torch.from_numpy(encode(data.codec, texts, data.train.shape[1] - 1)[0])
