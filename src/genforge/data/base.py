"""What every data source returns, and the registry that picks a source for `--data`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from ..errors import DataError
from ..modalities.manifest import owner, provide
from ..registry import Registry, nearest


@dataclass
class RawData:
    """A source's images before shared preprocessing.

    Images are uint8, NHWC (C = 1 or 3). `test` is None when the source has no
    split of its own. `problems` lists (path, reason) of skipped inputs.
    """

    name: str
    train: np.ndarray
    train_labels: Optional[np.ndarray] = None
    test: Optional[np.ndarray] = None
    test_labels: Optional[np.ndarray] = None
    class_names: Optional[list[str]] = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)  # source-specific facts (file modes, sizes)
    train_ids: Optional[list[str]] = None  # a path per image, for messages


@dataclass(kw_only=True)
class SplitData:
    """What every modality's preprocessed data set holds: train and test arrays in stored form, labels,
    class names, how it was split, its fingerprint, and what was met on the way. Each modality's
    subclass adds its own fields, `shape`, `tensor` and `codec`."""

    name: str
    train: np.ndarray
    test: np.ndarray
    train_labels: Optional[np.ndarray]
    test_labels: Optional[np.ndarray]
    class_names: Optional[list[str]]
    split: str
    fingerprint: str
    problems: list[tuple[str, str]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    train_ids: Optional[list[str]] = None

    @classmethod
    def build(cls, raw, parts: "Parts", prep: dict, hashed: Optional[list] = None, **fields) -> "SplitData":
        """The one ending of every loader: the data set of a split `parts` of source `raw` (its name, class names,
        problems and summary; `fields` replace any of them and add the subclass's own), fingerprinted from
        `hashed` (default: train, train labels, test, test labels) and the preprocessing recipe `prep`."""
        hashed = [parts.train, parts.train_labels, parts.test, parts.test_labels] if hashed is None else hashed
        given = {"name": raw.name, "class_names": raw.class_names, "problems": raw.problems, "summary": raw.summary}
        return cls(
            **(given | fields),
            train=parts.train,
            test=parts.test,
            train_labels=parts.train_labels,
            test_labels=parts.test_labels,
            split=parts.split,
            fingerprint=fingerprint(hashed, prep | {"split": parts.split, "limit": parts.limit}),
            train_ids=parts.train_ids,
        )

    @property
    def n_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def labels(self, split: str = "train", device="cpu"):
        """Labels of a split as an int64 tensor on `device`, or None for unlabelled data."""
        lab = self.train_labels if split == "train" else self.test_labels
        return None if lab is None else torch.from_numpy(lab).to(device)


@dataclass(frozen=True)
class Source:
    """`probe(spec)` says whether this source reads `spec`; `load(spec, cfg)` reads it.
    `modality` names the kind of data it returns (image sources return RawData)."""

    name: str
    probe: Callable[[str], bool]
    load: Callable  # (spec: str, cfg: the modality's DataConfig) -> the modality's raw data
    help: str
    modality: str
    licence: Optional[str] = None  # a built-in data set's licence, recorded in data.json and the model card


SOURCES: Registry[Source] = Registry("data source", provide)


def register_source(name: str, probe: Callable[[str], bool], help: str, modality: str, licence: Optional[str] = None):
    """Decorator: register `load` as the source `name` (a built-in set states its `licence`); probes run in
    registration order."""

    def deco(load):
        SOURCES.register(name)(Source(name, probe, load, help, modality, licence))
        return load

    return deco


def find_source(spec: str, modality: str) -> Source:
    """The first source of `modality` whose probe accepts `spec`; an error lists them all."""
    sources = [s for s in SOURCES.values() if s.modality == modality]
    for src in sources:
        if src.probe(spec):
            return src
    other = owner(spec)
    if other is not None and other.name != modality and spec in other.data_sets:
        raise DataError(
            f"--data '{spec}' is a {other.name} data set, and this model family generates {modality}; "
            f"{other.name} families: {', '.join(other.families)} (--model)"
            + (f"; first: {other.install_hint()}" if other.missing() else "")
        )
    named = [s.name for s in sources if s.probe(s.name)]
    expected = "Expected one of: " + "; ".join(f"{s.name} ({s.help})" for s in sources)
    if Path(spec).exists():
        raise DataError(
            f"--data '{spec}': no {modality} source reads it (a folder with no {modality} files in it, "
            f"or a file of another type). {expected}"
        )
    raise DataError(
        f"--data '{spec}': no {modality} data set by that name{nearest(spec, named)} and no such file "
        f"or folder. {expected}"
    )


def seeded_split(n: int, cfg, unit: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(sorted train indices, sorted test indices, a description) of a seeded split of n items, for sources
    with no split of their own (`data.test_fraction`, `data.split_seed`)."""
    n_test = max(1, int(round(n * cfg.test_fraction)))
    if n - n_test < 1:
        raise DataError(f"{cfg.source}: {n} {unit}(s) are too few to split into train and test")
    perm = np.random.default_rng(cfg.split_seed).permutation(n)
    split = f"seeded: test_fraction={cfg.test_fraction}, split_seed={cfg.split_seed}"
    return np.sort(perm[n_test:]), np.sort(perm[:n_test]), split


def split_items(n: int, own_split: Optional[str], cfg, unit: str):
    """(training items, test items, the split's description) for a source of n training items: the source's
    own test split (`own_split` describes it; test items None), or a seeded one; then the first `data.limit`
    training items. Items are index arrays or slices, for `take`."""
    if own_split is None:
        train, test, split = seeded_split(n, cfg, unit)
    else:
        train, test, split = slice(None), None, own_split
    if cfg.limit is not None:
        train = train[: cfg.limit] if isinstance(train, np.ndarray) else slice(cfg.limit)
    return train, test, split


@dataclass
class Parts:
    """A source's items cut into a training and a test split (items: arrays or lists; labels, ids: or None)."""

    train: Any
    test: Any
    train_labels: Optional[np.ndarray]
    test_labels: Optional[np.ndarray]
    train_ids: Optional[list[str]]
    split: str  # how it was split
    limit: Optional[int] = None  # the data.limit applied to the training items


def split_source(items, labels, ids, cfg, unit: str, own_test=None, own_test_labels=None, own_split=None) -> Parts:
    """The split of every item source: the source's own test split (`own_test`, described by `own_split`), or a
    seeded one cut out of the items; then the first `data.limit` training items."""
    tr, te, split = split_items(len(items), own_split if own_test is not None else None, cfg, unit)
    test, test_labels = own_test, own_test_labels
    if te is not None:  # no split of its own: the test items come out of the training items
        test, test_labels = take(items, te), take(labels, te)
    return Parts(take(items, tr), test, take(labels, tr), test_labels, take(ids, tr), split, cfg.limit)


def subfolder_classes(rel: list[Path]) -> Optional[list[str]]:
    """Class names of a folder source, from its files' paths relative to the folder: the first-level
    subfolders' names, sorted, when every file sits in one; else None (unlabelled)."""
    if not rel or not all(len(r.parts) >= 2 for r in rel):
        return None
    return sorted({r.parts[0] for r in rel})


def take(items, which):
    """`items` (an array, a list or None) at the index array or slice `which`."""
    if items is None or isinstance(items, np.ndarray) or isinstance(which, slice):
        return None if items is None else items[which]
    return [items[i] for i in which]


def fingerprint(parts: list[Optional[np.ndarray]], prep: dict) -> str:
    """Short hash of a preprocessing recipe and the arrays it produced (None parts hash as such)."""
    h = hashlib.sha256(json.dumps(prep, sort_keys=True).encode())
    for a in parts:
        h.update(b"none" if a is None else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def detect_modality(spec: str) -> str:
    """The modality of the first source (in registration order) that recognises `spec`."""
    for src in SOURCES.values():
        if src.probe(spec):
            return src.modality
    named = [s.name for s in SOURCES.values() if s.probe(s.name)]
    raise DataError(
        f"'{spec}': no data set by that name{nearest(spec, named)} and no such file or folder. "
        "Expected one of: " + "; ".join(f"{s.name} ({s.help})" for s in SOURCES.values())
    )


def as_uint8_nhwc(arr: np.ndarray, where: str) -> np.ndarray:
    """Bring an image array to uint8 NHWC, accepting NHW, NCHW and [0,1]/[-1,1]/[0,255] floats."""
    arr = np.asarray(arr)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise DataError(f"{where}: expected images shaped [N,H,W], [N,H,W,C] or [N,C,H,W], got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{where}: no images (shape {arr.shape})")
    if arr.shape[-1] not in (1, 3) and arr.shape[1] in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)
    if 0 in arr.shape[1:3]:
        raise DataError(f"{where}: images of height or width 0 (shape {arr.shape} as [N,H,W,C])")
    if arr.shape[-1] not in (1, 3):
        raise DataError(f"{where}: expected 1 or 3 channels (NHWC or NCHW), got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)) or arr.size == 0:
        raise DataError(f"{where}: expected integer or float images, got dtype {arr.dtype} with {arr.size} values")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise DataError(f"{where}: the image array holds NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0 and hi <= 1:
        arr = arr * 255.0
    elif lo >= -1 and hi <= 1:
        arr = (arr + 1.0) * 127.5
    elif lo < 0 or hi > 255:
        raise DataError(f"{where}: float values span [{lo:g}, {hi:g}]; expected [0,1], [-1,1] or [0,255]")
    return np.ascontiguousarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def as_labels(arr, n: int, where: str) -> np.ndarray:
    """Integer labels 0..K-1 of length n."""
    arr = np.asarray(arr).reshape(-1)
    if len(arr) != n:
        raise DataError(f"{where}: {len(arr)} labels for {n} images")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise DataError(f"{where}: labels must be integers, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise DataError(f"{where}: labels must be >= 0, found {arr.min()}")
    return arr.astype(np.int64)
