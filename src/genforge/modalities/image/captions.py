"""Captions for text-to-image: `captions.csv` beside an image folder, and Fashion-MNIST with captions made
from the class name plus attributes measured from the pixels.

A captioned data set's labels are its distinct captions: label i is the caption `class_names[i]`, so the
trainer, the class shares and `--class` work unchanged, and a text-conditional model reads the words of
each caption (and of any new prompt) with its own text encoder.

`captions.csv` has a header `file,caption`; `file` is the image's path relative to the folder (or just its
name when that is unique). Captions are lower-cased and stripped.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np

from ...data.base import RawData, register_source
from ...errors import DataError
from .builtin import load_fashion_mnist

CAPTIONS_FILE = "captions.csv"


def read_captions(path: Path) -> dict[str, str]:
    """captions.csv -> {file: caption}; errors name the file and the line."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: not a readable UTF-8 CSV file ({e})") from None
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["file", "caption"]:
        raise DataError(f"{path}: expected a header line `file,caption`, got {rows[0] if rows else 'an empty file'}")
    out: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise DataError(f"{path}, line {line}: expected a file name and a caption, got {row}")
        out[row[0].strip()] = row[1].strip().lower()
    return out


def caption_labels(raw: RawData, root: Path) -> RawData:
    """Replace a folder's labels by its captions (label = index of the distinct caption); images without a
    caption are skipped and listed as problems."""
    captions = read_captions(root / CAPTIONS_FILE)
    names = [Path(i).name for i in raw.train_ids]
    unique = {n for n, count in Counter(names).items() if count == 1}  # a bare name identifies one image only
    keep, texts = [], []
    for k, path in enumerate(raw.train_ids):
        rel = Path(path).relative_to(root).as_posix()
        text = captions.get(rel) or (captions.get(names[k]) if names[k] in unique else None)
        if text is None:
            raw.problems.append((path, f"no caption in {root / CAPTIONS_FILE}"))
            continue
        keep.append(k)
        texts.append(text)
    if not keep:
        raise DataError(f"{root / CAPTIONS_FILE}: names none of the folder's {len(names)} images")
    vocab = sorted(set(texts))
    raw.train = raw.train[keep]
    raw.train_ids = [raw.train_ids[k] for k in keep]
    raw.train_labels = np.array([vocab.index(t) for t in texts], dtype=np.int64)
    raw.class_names = vocab
    raw.summary["captions"] = {"file": str(root / CAPTIONS_FILE), "captioned": len(keep), "distinct": len(vocab)}
    return raw


# -- Fashion-MNIST with measured attributes

INK = 25  # a pixel above this grey level belongs to the garment


def measure(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per image (uint8 [N, H, W, 1] or [N, H, W]): brightness = mean grey level of the garment's pixels,
    size = the share of the picture the garment covers."""
    g = images.reshape(len(images), -1).astype(np.float32)
    ink = g > INK
    area = ink.sum(1)
    return {"brightness": (g * ink).sum(1) / np.maximum(area, 1), "size": area / g.shape[1]}


ATTRIBUTES = {"brightness": ("dark", "bright"), "size": ("small", "large")}  # words for the low and high third


def thresholds(images: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Per attribute, per class, the (1/3, 2/3) quantiles [K, 2]: a third of each class gets each word."""
    m = measure(images)
    return {a: np.stack([np.quantile(m[a][labels == k], [1 / 3, 2 / 3]) for k in range(n_classes)]) for a in m}


def attribute_words(
    measured: dict[str, np.ndarray], labels: np.ndarray, cuts: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per attribute, per image (its `measure`): 0 (low word), 1 (no word) or 2 (high word), by the thresholds
    of the class in `labels`."""
    return {a: (v > cuts[a][labels, 0]).astype(np.int64) + (v > cuts[a][labels, 1]) for a, v in measured.items()}


def caption(class_name: str, words: dict[str, int]) -> str:
    """'Ankle boot', {'brightness': 0, 'size': 2} -> 'a dark large ankle boot'."""
    adj = [ATTRIBUTES[a][0 if v == 0 else 1] for a, v in words.items() if v != 1]
    return " ".join(["a", *adj, class_name.lower()])


@register_source(
    "fashion-mnist-captions",
    lambda s: s == "fashion-mnist-captions",
    "Fashion-MNIST captioned with its class and measured brightness and size ('a dark large ankle boot')",
    modality="image",
    licence="MIT (Fashion-MNIST, Zalando Research; captions made by genforge)",
)
def load_fashion_mnist_captions(spec, cfg) -> RawData:
    raw = load_fashion_mnist("fashion-mnist", cfg)
    k = len(raw.class_names)
    cuts = thresholds(raw.train, raw.train_labels, k)  # from the training split only, applied to both
    per_split = []
    for images, labels in ((raw.train, raw.train_labels), (raw.test, raw.test_labels)):
        words = attribute_words(measure(images), labels, cuts)
        per_split.append(
            [caption(raw.class_names[y], {a: w[i] for a, w in words.items()}) for i, y in enumerate(labels)]
        )
    vocab = sorted(set(per_split[0]) | set(per_split[1]))
    index = {c: i for i, c in enumerate(vocab)}
    raw.train_labels, raw.test_labels = (np.array([index[c] for c in s], dtype=np.int64) for s in per_split)
    raw.name, raw.class_names = "fashion-mnist-captions", vocab
    raw.summary["captions"] = {"distinct": len(vocab), "attributes": list(ATTRIBUTES)}
    return raw
