"""Two unpaired image domains in one data set, for translation between them (CycleGAN).

The domains become the labels: 0 is domain A, 1 is domain B. Three ways to give them:

- a folder in CycleGAN's layout: `trainA/`, `trainB/` and, optionally, `testA/`, `testB/` (any images,
  read as an image folder each; subfolders inside a side are not labels);
- two sources: `--data A --set data.target=B` (any image source on either side);
- a built-in pair of real classes (`PAIRS`: Fashion-MNIST or digit classes as domains).

A side without a test split of its own is split by `data.test_fraction` and `data.split_seed`. The two
sides' training images are interleaved in proportion, so `data.limit` keeps both domains.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...data.base import SOURCES, RawData, register_source, seeded_split
from ...errors import DataError
from .folder import DOMAIN_FOLDERS, convert_channels, is_domain_layout, load_image_folder, resize_square, square_side

# built-in pair -> (source, class of domain A, class of domain B): real images, no download
PAIRS = {
    "sneakers2boots": ("fashion-mnist", "Sneaker", "Ankle boot"),
    "tshirts2shirts": ("fashion-mnist", "T-shirt/top", "Shirt"),
    "sandals2sneakers": ("fashion-mnist", "Sandal", "Sneaker"),
    "ones2sevens": ("digits", "1", "7"),
}


def _side(raw: RawData, cfg, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) images of one domain: its own test split, or a seeded one."""
    if raw.test is not None and len(raw.test):
        return raw.train, raw.test
    tr, te, _ = seeded_split(len(raw.train), cfg, f"image of {where}")
    return raw.train[tr], raw.train[te]


def _interleave(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(images, domain labels): A and B merged in proportion (every prefix holds both domains in their ratio)."""
    position = np.concatenate([(np.arange(len(a)) + 0.5) / len(a), (np.arange(len(b)) + 0.5) / len(b)])
    order = np.argsort(position, kind="stable")
    labels = np.concatenate([np.zeros(len(a), np.int64), np.ones(len(b), np.int64)])
    return np.concatenate([a, b])[order], labels[order]


def two_domains(a: RawData, b: RawData, cfg, names: tuple[str, str], where: tuple[str, str], name: str) -> RawData:
    """Domain A's and domain B's raw images -> one labelled RawData (labels 0 = A, 1 = B) at one size and
    channel count; `where` names each side in messages."""
    for raw, side in ((a, where[0]), (b, where[1])):
        if len(raw.train) == 0:
            raise DataError(f"{side}: no usable images (every domain needs some)")
    ca, cb = a.train.shape[-1], b.train.shape[-1]
    if cfg.channels is None and ca != cb:
        raise DataError(
            f"{where[0]} holds {ca}-channel images and {where[1]} {cb}-channel ones: expected the same on both "
            "sides (or set data.channels=1 or data.channels=3 to convert both)"
        )
    channels = cfg.channels or ca
    sizes = {tuple(raw.train.shape[1:3]) for raw in (a, b)}
    size = square_side(cfg, sizes, fallback=min(min(s) for s in sizes))
    (a_tr, a_te), (b_tr, b_te) = _side(a, cfg, where[0]), _side(b, cfg, where[1])
    train, train_labels = _interleave(*(resize_square(convert_channels(x, channels), size) for x in (a_tr, b_tr)))
    test, test_labels = _interleave(*(resize_square(convert_channels(x, channels), size) for x in (a_te, b_te)))
    return RawData(
        name=name,
        train=train,
        train_labels=train_labels,
        test=test,
        test_labels=test_labels,
        class_names=list(names),
        problems=a.problems + b.problems,
        summary={
            "domains": {"A": names[0], "B": names[1]},
            "train_per_domain": [len(a_tr), len(b_tr)],
            "test_per_domain": [len(a_te), len(b_te)],
        },
    )


def two_sources(a: RawData, b: RawData, cfg) -> RawData:
    """`--data A --set data.target=B`: the two sources' images as domains A and B."""
    names = (a.name, b.name) if a.name != b.name else ("A", "B")
    return two_domains(a, b, cfg, names, (cfg.source, cfg.target), f"{a.name}2{b.name}")


@register_source(
    "unpaired-folder",
    lambda s: is_domain_layout(Path(s)),
    "a folder in CycleGAN's layout: trainA/, trainB/ (and testA/, testB/), two unpaired domains",
    modality="image",
)
def load_unpaired_folder(spec, cfg) -> RawData:
    root = Path(spec)
    present = {d: (root / d).is_dir() for d in DOMAIN_FOLDERS}
    layout = "trainA/ and trainB/ (testA/ and testB/ optional, both or neither)"
    missing = [d for d in ("trainA", "trainB") if not present[d]]
    if missing or present["testA"] != present["testB"]:
        gone = missing or [d for d in ("testA", "testB") if not present[d]]
        raise DataError(f"{root}: no {' or '.join(d + '/' for d in gone)} in it; expected the folders {layout}")

    def read(d: str) -> np.ndarray:
        side = load_image_folder(str(root / d), cfg)  # a side with no images is an error naming it
        problems.extend(side.problems)
        return side.train

    problems: list[tuple[str, str]] = []
    sides = [
        RawData(name=x, train=read(f"train{x}"), test=read(f"test{x}") if present["testA"] else None) for x in "AB"
    ]
    out = two_domains(*sides, cfg, ("A", "B"), (str(root / "trainA"), str(root / "trainB")), root.name)
    out.problems = problems
    return out


def _load_pair(spec: str, cfg) -> RawData:
    source, *classes = PAIRS[spec]
    raw = SOURCES.get(source).load(source, cfg)
    sides = []
    for c in classes:
        k = raw.class_names.index(c)
        test = None if raw.test is None else raw.test[raw.test_labels == k]
        sides.append(RawData(name=c, train=raw.train[raw.train_labels == k], test=test))
    pair = two_domains(*sides, cfg, tuple(classes), (f"{spec}: {classes[0]}", f"{spec}: {classes[1]}"), spec)
    pair.summary["origin"] = source
    return pair


register_source(
    "class-pairs",
    lambda s: s in PAIRS,
    "two classes of real images as unpaired domains: "
    + ", ".join(f"{k} ({s}: {a} -> {b})" for k, (s, a, b) in PAIRS.items()),
    modality="image",
)(_load_pair)
