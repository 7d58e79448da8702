"""Shared preprocessing (channels, resolution, split, limit) and the in-memory ImageData."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...data.base import RawData, SplitData, find_source, split_source
from ...errors import DataError
from .folder import convert_channels, resize_square, square_side
from .unpaired import two_sources


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
        # a read-only array (a memory-mapped cache) is copied: a tensor sharing it could be written to
        arr = arr if arr.flags.writeable else arr.copy()
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous().to(device)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0,255] -> float [-1, 1], the scale every model sees."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255]."""
    return x.detach().float().add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8)


def preprocess(raw: RawData, cfg) -> ImageData:
    """Apply channels, resolution, split and limit to a source's raw images."""
    if len(raw.train) == 0:
        raise DataError(f"{cfg.source}: the data set holds no usable images")
    channels = cfg.channels or raw.train.shape[-1]
    h, w = raw.train.shape[1:3]
    size = square_side(cfg, {(w, h)}, fallback=min(h, w))  # non-square arrays are center-cropped to a square
    train = resize_square(convert_channels(raw.train, channels), size)
    test = None if raw.test is None else resize_square(convert_channels(raw.test, channels), size)
    parts = split_source(train, raw.train_labels, raw.train_ids, cfg, "image", test, raw.test_labels, "source")
    return ImageData.build(raw, parts, {"resolution": size, "channels": channels})


def load_data(cfg) -> ImageData:
    """Read `cfg.source` with the source that recognises it (and `cfg.target` as a second domain), then
    preprocess."""
    raw = find_source(cfg.source, "image").load(cfg.source, cfg)
    if cfg.target is not None:
        raw = two_sources(raw, find_source(cfg.target, "image").load(cfg.target, cfg), cfg)
    return preprocess(raw, cfg)
