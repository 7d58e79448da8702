"""Shared preprocessing (channels, resolution, split, limit) and the in-memory ImageData."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from .base import RawData, SplitData, find_source, fingerprint, split_items, take
from .images import square, square_side


@dataclass(kw_only=True)
class ImageData(SplitData):
    """A preprocessed image data set: uint8 NHWC arrays."""

    codec = None  # images need nothing to turn stored form into samples
    modality = "image"

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        n, h, w, c = self.train.shape
        return c, h, w

    def tensor(self, split: str = "train", device="cpu") -> torch.Tensor:
        """The split as one uint8 tensor [N, C, H, W] on `device` (convert per batch, not per sample)."""
        arr = self.train if split == "train" else self.test
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous().to(device)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0,255] -> float [-1, 1], the scale every model sees."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255]."""
    return x.detach().float().add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8)


def _convert_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    if arr.shape[-1] == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=-1)
    # ITU-R 601-2 luma, the transform PIL's convert("L") uses.
    luma = arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.rint(luma).clip(0, 255).astype(np.uint8)[..., None]


def _resize(arr: np.ndarray, size: int) -> np.ndarray:
    if arr.shape[1] == size and arr.shape[2] == size:
        return arr
    c = arr.shape[-1]
    mode = "L" if c == 1 else "RGB"
    out = [np.asarray(square(Image.fromarray(a.squeeze(-1) if c == 1 else a, mode), size)) for a in arr]
    return np.stack(out).reshape(len(arr), size, size, c)


def preprocess(raw: RawData, cfg) -> ImageData:
    """Apply channels, resolution, split and limit to a source's raw images."""
    if len(raw.train) == 0:
        raise DataError(f"{cfg.source}: the data set holds no usable images")
    channels = cfg.channels or raw.train.shape[-1]
    h, w = raw.train.shape[1:3]
    size = square_side(cfg, {(w, h)}, fallback=min(h, w))  # non-square arrays are center-cropped to a square
    train = _resize(_convert_channels(raw.train, channels), size)
    test = None if raw.test is None else _resize(_convert_channels(raw.test, channels), size)
    tr, te, split = split_items(len(train), None if test is None else "source", cfg, "image")
    test_labels = raw.test_labels
    if te is not None:  # no split of its own: the test items come out of the training items
        test, test_labels = take(train, te), take(raw.train_labels, te)
    train, train_labels, train_ids = take(train, tr), take(raw.train_labels, tr), take(raw.train_ids, tr)
    prep = {"resolution": size, "channels": channels, "split": split, "limit": cfg.limit}
    return ImageData(
        name=raw.name,
        train=train,
        test=test,
        train_labels=train_labels,
        test_labels=test_labels,
        class_names=raw.class_names,
        split=split,
        fingerprint=fingerprint([train, train_labels, test, test_labels], prep),
        problems=raw.problems,
        summary=raw.summary,
        train_ids=train_ids,
    )


def load_data(cfg) -> ImageData:
    """Read `cfg.source` with the source that recognises it, then preprocess."""
    src = find_source(cfg.source)
    return preprocess(src.load(cfg.source, cfg), cfg)
