"""A folder of image files (recursive). Class subfolders become labels; a captions.csv makes captions the labels.

Every image is resized so its shorter side is `resolution` with one fixed
filter (Lanczos) and center-cropped to a square. Unreadable or truncated files
are listed with their path and reason and skipped (or raised with `strict`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from ...data.base import RawData, register_source, subfolder_classes
from ...errors import DataError
from .captions import CAPTIONS_FILE, caption_labels

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
RESAMPLE = Image.Resampling.LANCZOS
DEFAULT_RESOLUTION = 64
MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # a larger image is a decompression bomb, skipped before decoding
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F", "P;L"}


def square_side(cfg, sizes: set[tuple[int, int]], fallback: int) -> int:
    """The side images are brought to: `data.resolution`; else the images' own side when all are of one
    square size; else `fallback` (arrays: their shorter side, a center crop; folders: DEFAULT_RESOLUTION)."""
    if cfg.resolution is not None:
        return cfg.resolution
    if len(sizes) == 1 and len(set(next(iter(sizes)))) == 1:
        return next(iter(sizes))[0]
    return fallback


DOMAIN_FOLDERS = ("trainA", "trainB", "testA", "testB")  # CycleGAN's layout of two unpaired domains


def is_domain_layout(p: Path) -> bool:
    """A folder in CycleGAN's layout (any of trainA/, trainB/, testA/, testB/): two domains, read by
    the `unpaired-folder` source rather than as class subfolders."""
    return p.is_dir() and any((p / d).is_dir() for d in DOMAIN_FOLDERS)


def _is_image_folder(spec: str) -> bool:
    p = Path(spec)
    return p.is_dir() and not is_domain_layout(p) and any(f.suffix.lower() in EXTENSIONS for f in p.rglob("*"))


def list_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)


def square(img: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to `size`, then center-crop to size x size."""
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), RESAMPLE)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def convert_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """uint8 NHWC images -> `channels` channels (gray repeated to RGB, or RGB to luma)."""
    if arr.shape[-1] == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=-1)
    # ITU-R 601-2 luma, the transform PIL's convert("L") uses.
    luma = arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.rint(luma).clip(0, 255).astype(np.uint8)[..., None]


def resize_square(arr: np.ndarray, size: int) -> np.ndarray:
    """uint8 NHWC images -> [N, size, size, C] (`square`: shorter side to size, center crop)."""
    if arr.shape[1] == size and arr.shape[2] == size:
        return arr
    c = arr.shape[-1]
    mode = "L" if c == 1 else "RGB"
    out = [np.asarray(square(Image.fromarray(a.squeeze(-1) if c == 1 else a, mode), size)) for a in arr]
    return np.stack(out).reshape(len(arr), size, size, c)


@register_source(
    "image-folder",
    _is_image_folder,
    "a folder of PNG/JPEG/BMP/WebP images, class subfolders as labels",
    modality="image",
)
def load_image_folder(spec, cfg) -> RawData:
    root = Path(spec)
    files = list_images(root)
    if not files:
        raise DataError(f"{root}: no image files (expected {', '.join(EXTENSIONS)}, searched recursively)")

    # Pass 1: headers only (cheap) -> modes, sizes, and which files open at all.
    problems: list[tuple[str, str]] = []
    headers: list[tuple[Path, str, tuple[int, int]]] = []
    for p in files:
        try:
            with Image.open(p) as im:
                if im.size[0] * im.size[1] > MAX_PIXELS:  # PIL only warns below twice its limit
                    problems.append((str(p), f"{im.size[0]}x{im.size[1]} pixels, over the {MAX_PIXELS:,} limit"))
                    continue
                headers.append((p, im.mode, im.size))
        except Exception as e:  # PIL raises many types for bad files
            problems.append((str(p), f"unreadable: {e}"))
    if cfg.strict and problems:
        raise DataError(f"{len(problems)} unreadable image file(s), first: {problems[0][0]}: {problems[0][1]}")

    modes = Counter(m for _, m, _ in headers)
    sizes = Counter(s for _, _, s in headers)
    channels = cfg.channels or (1 if all(m in _GRAY_MODES for m in modes) else 3)
    resolution = square_side(cfg, set(sizes), DEFAULT_RESOLUTION)

    # Class subfolders: labels only when every image sits in a first-level subfolder.
    rel = [p.relative_to(root) for p, _, _ in headers]
    class_names = subfolder_classes(rel)

    # Pass 2: decode fully (catches truncation), convert, resize, crop.
    images, labels, ids = [], [], []
    for (p, _, _), r in zip(headers, rel):
        try:
            with Image.open(p) as im:
                im.load()
                im = im.convert("L" if channels == 1 else "RGB")
                arr = np.asarray(square(im, resolution), dtype=np.uint8)
        except Exception as e:
            problems.append((str(p), f"cannot decode: {e}"))
            continue
        images.append(arr.reshape(resolution, resolution, channels))
        ids.append(str(p))
        if class_names is not None:
            labels.append(class_names.index(r.parts[0]))
    if cfg.strict and problems:
        raise DataError(f"{len(problems)} unreadable image file(s), first: {problems[0][0]}: {problems[0][1]}")
    if not images:
        raise DataError(
            f"{root}: none of the {len(files)} image files could be read; "
            f"first problem: {problems[0][0]}: {problems[0][1]}"
        )
    raw = RawData(
        name=root.name,
        train=np.stack(images),
        train_labels=np.array(labels, dtype=np.int64) if class_names is not None else None,
        class_names=class_names,
        problems=problems,
        summary={
            "files": len(files),
            "modes": dict(modes),
            "sizes": {f"{w}x{h}": n for (w, h), n in sizes.most_common(5)},
            "distinct_sizes": len(sizes),
            "resized_to": resolution,
        },
        train_ids=ids,
    )
    return caption_labels(raw, root) if (root / CAPTIONS_FILE).is_file() else raw
