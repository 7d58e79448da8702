"""IDX files (the MNIST format), gzipped or not, and folders of them in MNIST's layout."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from ...data.base import RawData, as_labels, as_uint8_nhwc, register_source
from ...errors import DataError

# IDX type byte -> numpy dtype (big-endian where it matters)
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file; a truncated or malformed file is an error naming it."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            blob = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read IDX file ({e})") from None
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] not in _DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {blob[:4].hex()})")
    ndim = blob[3]
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[blob[2]])
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: a forged shape cannot overflow
    if len(blob) != expected:
        raise DataError(
            f"{path}: truncated or padded IDX file: {len(blob)} bytes, expected {expected} for shape {shape}"
        )
    return np.frombuffer(blob, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, split: str, kind: str) -> Path | None:
    # kind: "images" (idx3) or "labels" (idx1), e.g. train-images-idx3-ubyte.gz
    for p in sorted(folder.iterdir()):
        name = p.name.lower()
        if name.startswith(_PREFIXES[split]) and kind in name and "idx" in name:
            return p
    return None


def _is_idx_folder(spec: str) -> bool:
    p = Path(spec)
    return p.is_dir() and _find(p, "train", "images") is not None


def read_idx_folder(folder: Path) -> RawData:
    """train-/t10k- images and labels of an MNIST-layout folder."""
    folder = Path(folder)
    found = {(s, k): _find(folder, s, k) for s in ("train", "test") for k in ("images", "labels")}
    if found["train", "images"] is None:
        raise DataError(f"{folder}: no train-images-idx3-ubyte[.gz] file")
    arrays = {key: read_idx(p) for key, p in found.items() if p is not None}
    for key, arr in arrays.items():
        if key[1] == "images" and arr.ndim != 3:
            raise DataError(f"{found[key]}: expected a 3-D image array [N,H,W], got shape {arr.shape}")
    out = RawData(name=folder.name, train=as_uint8_nhwc(arrays["train", "images"], str(found["train", "images"])))
    if ("train", "labels") in arrays:
        out.train_labels = as_labels(arrays["train", "labels"], len(out.train), str(found["train", "labels"]))
    if ("test", "images") in arrays:
        out.test = as_uint8_nhwc(arrays["test", "images"], str(found["test", "images"]))
        if ("test", "labels") in arrays:
            out.test_labels = as_labels(arrays["test", "labels"], len(out.test), str(found["test", "labels"]))
    if out.train_labels is not None:
        out.class_names = [str(i) for i in range(int(out.train_labels.max()) + 1)]
    out.summary = {"files": {f"{s}-{k}": str(p) for (s, k), p in found.items() if p is not None}}
    return out


@register_source("idx-folder", _is_idx_folder, "a folder of MNIST-layout IDX files, gzipped or not", modality="image")
def load_idx_folder(spec, cfg) -> RawData:
    return read_idx_folder(Path(spec))
