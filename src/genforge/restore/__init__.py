"""Image restoration with what a run already learned: inpainting and super-resolution by latent optimisation.

    genforge restore RUN --task inpaint --input damaged/ (--mask masks/ | --mask-box 7,7,14,14) --out restored/
    genforge restore RUN --task superres --scale 4 --input small/ --out large/
    genforge restore RUN --task deblur|denoise --input blurred/ --out sharp/    (a pix2pix run trained for it)

Any image GAN or VAE restores by latent optimisation (`latent.py`); a family with the `paired` ability
(pix2pix) was trained for one damage and restores it in one forward pass.

Inputs are image files (a file or a folder): at the model's resolution for inpainting, at 1/scale of it for
super-resolution. A mask is an image file of the same size (white = missing), one per input (a folder of
masks with the inputs' names) or one for all; or a box.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from ..data.images import EXTENSIONS
from ..errors import ConfigError, DataError
from .latent import restore
from .masks import Degradation, box_mask, random_mask, read_mask

__all__ = ["Degradation", "restore", "restore_with", "restore_files", "box_mask", "random_mask"]


def image_files(path: Path) -> list[Path]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in EXTENSIONS) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise DataError(f"{path}: no image files to restore (expected {', '.join(EXTENSIONS)})")
    return files


def read_image(path: Path, channels: int, size: tuple[int, int]) -> torch.Tensor:
    """An image file of exactly `size` (width, height) -> stored uint8 [1, C, H, W]."""
    try:
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    if arr.shape[1::-1] != tuple(size):
        raise DataError(f"{path}: the image is {arr.shape[1]}x{arr.shape[0]}, expected {size[0]}x{size[1]}")
    return torch.from_numpy(arr.reshape(arr.shape[0], arr.shape[1], channels).copy()).permute(2, 0, 1)[None]


def restore_with(model, task: str, observed, degradation: Degradation, labels=None, steps=300, restarts=8, seed=0):
    """Restored images [N, C, H, W] in model form: a `paired` family's forward pass, else latent optimisation."""
    if "paired" in model.abilities:
        return model.restore(observed, degradation, task)
    if task not in ("inpaint", "superres"):
        raise ConfigError(
            f"--task {task} needs a model trained for it (genforge train --model pix2pix "
            f"--set model.corruption={'blur' if task == 'deblur' else 'noise'})"
        )
    return restore(model, observed, degradation, labels, steps, restarts, seed=seed)


def restore_files(
    run: str | Path,
    task: str,
    inputs: Path,
    out: Path,
    mask: Optional[Path] = None,
    mask_box: Optional[tuple[int, int, int, int]] = None,
    scale: int = 4,
    label: Optional[str] = None,
    steps: int = 300,
    restarts: int = 8,
    seed: int = 0,
) -> list[Path]:
    """Restore every input image with the model of `run` and write PNGs of the same names into `out`."""
    from ..modalities import modality_of
    from ..run import load
    from ..sample import class_index

    model = load(run)
    mod = modality_of(model)
    if mod.name != "image":
        raise ConfigError(f"genforge restore works on image runs; {run} is a {mod.name} run")
    c, h, w = model.shape
    files = image_files(Path(inputs))
    if task == "inpaint":
        if (mask is None) == (mask_box is None):
            raise ConfigError("--task inpaint needs the missing pixels: --mask FILE_OR_FOLDER or --mask-box x,y,w,h")
        stored = torch.cat([read_image(f, c, (w, h)) for f in files])
        if mask_box is not None:
            known = box_mask(model.shape, mask_box, len(files))
        elif Path(mask).is_dir():
            known = torch.cat([read_mask(Path(mask) / f.name, (w, h)) for f in files])
        else:
            known = read_mask(Path(mask), (w, h)).repeat(len(files), 1, 1, 1)
        degradation = Degradation(known=known)
        observed = mod.to_model(stored) * known
    elif task == "superres":
        if scale < 2 or h % scale or w % scale:
            raise ConfigError(f"--scale {scale}: expected a factor of 2 or more that divides the model's {w}x{h}")
        stored = torch.cat([read_image(f, c, (w // scale, h // scale)) for f in files])
        degradation, observed = Degradation(scale=scale), mod.to_model(stored)
    elif task in ("deblur", "denoise"):
        stored = torch.cat([read_image(f, c, (w, h)) for f in files])
        degradation, observed = Degradation(), mod.to_model(stored)
    else:
        raise ConfigError(f"--task {task}: expected inpaint, superres, deblur or denoise")
    index = class_index(model, label)
    labels = None if index is None else torch.full((len(files),), index, dtype=torch.long)
    restored = mod.to_stored(restore_with(model, task, observed, degradation, labels, steps, restarts, seed))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f, img in zip(files, mod.to_samples(restored)):
        written.append(out / f"{f.stem}.png")
        Image.fromarray(img[..., 0] if c == 1 else img).save(written[-1])
    return written
