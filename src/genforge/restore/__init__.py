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

import io
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from ..errors import ConfigError, DataError
from ..modalities import modality_of
from ..run import load
from ..safety.publish import publish
from ..sample import class_index
from .latent import check_restorable, restore
from .masks import Degradation, box_mask, check, random_mask, read_mask

__all__ = [
    "Degradation",
    "check_restorable",
    "restore",
    "restore_with",
    "restore_files",
    "read_upload",
    "box_mask",
    "random_mask",
]


def read_image(source: Path | bytes, channels: int, size: tuple[int, int], name: str = "") -> tuple:
    """An image file (a path or its bytes) of exactly `size` (width, height) -> (stored uint8 [1, C, H, W],
    known-pixel mask [1, 1, H, W] from its alpha channel (alpha < 128 = missing), or None without alpha)."""
    name = name or str(source)
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            im.load()
            alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            known = np.asarray(im.convert("RGBA"))[..., 3] >= 128 if alpha else None
            arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{name}: not a readable image ({e})") from None
    if arr.shape[1::-1] != tuple(size):
        raise DataError(f"{name}: the image is {arr.shape[1]}x{arr.shape[0]}, expected {size[0]}x{size[1]}")
    stored = torch.from_numpy(arr.reshape(arr.shape[0], arr.shape[1], channels).copy()).permute(2, 0, 1)[None]
    return stored, None if known is None else torch.from_numpy(known.astype(np.float32))[None, None]


def input_size(model, task: str, scale: int) -> tuple[int, int]:
    """(width, height) the inputs of `task` must have: the model's, or 1/scale of it for super-resolution."""
    _, h, w = model.shape
    if task != "superres":
        return w, h
    if scale < 2 or h % scale or w % scale:
        raise ConfigError(f"--scale {scale}: expected a factor of 2 or more that divides the model's {w}x{h}")
    return w // scale, h // scale


def observe(model, task: str, stored: torch.Tensor, known: Optional[torch.Tensor], scale: int):
    """Stored inputs [N, C, h, w] (and the known-pixel masks of inpainting) -> (observation in model form,
    its Degradation)."""
    x = modality_of(model).to_model(stored)
    if task == "inpaint":
        return x * known, Degradation(known=check(known, "the mask"))
    if task == "superres":
        return x, Degradation(scale=scale)
    if task in ("deblur", "denoise"):
        return x, Degradation()
    raise ConfigError(f"--task {task}: expected inpaint, superres, deblur or denoise")


def read_upload(model, body: bytes, task: str, box: Optional[str], scale: int):
    """An uploaded image (the server's /restore) -> (observation, Degradation, the input as shown [1, C, H, W]):
    inpainting takes the missing pixels from the PNG's transparency or from `box` ('x,y,width,height').
    The server has refused models that `check_restorable` refuses before it reads the upload."""
    stored, known = read_image(body, model.shape[0], input_size(model, task, scale), "the upload")
    if task == "inpaint":
        if box is not None:
            known = box_mask(model.shape, parse_box(box))
        if known is None:
            raise ConfigError("inpainting needs the missing pixels: a PNG with transparent holes, or ?box=x,y,w,h")
    observed, degradation = observe(model, task, stored, known, scale)
    shown = stored * known.to(torch.uint8) if task == "inpaint" else stored
    if task == "superres":
        shown = shown.repeat_interleave(scale, 2).repeat_interleave(scale, 3)  # nearest, for a side-by-side view
    return observed, degradation, shown


def parse_box(text: str) -> tuple[int, int, int, int]:
    """'7,7,14,14' -> (7, 7, 14, 14), or an error naming the value."""
    try:
        box = tuple(int(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4:
        raise ConfigError(f"--mask-box {text}: expected four whole numbers x,y,width,height")
    return box


def restore_with(
    model, task: str, observed, degradation: Degradation, labels=None, steps=300, restarts=8, seed=0, progress=False
):
    """Restored images [N, C, H, W] in model form: a `paired` family's forward pass, else latent optimisation
    (`progress`: show its steps)."""
    if "paired" in model.abilities:
        return model.restore(observed, degradation, task)
    if task not in ("inpaint", "superres"):
        raise ConfigError(
            f"--task {task} needs a model trained for it (genforge train --model pix2pix "
            f"--set model.corruption={'blur' if task == 'deblur' else 'noise'})"
        )
    return restore(model, observed, degradation, labels, steps, restarts, seed=seed, progress=progress)


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
    progress: bool = True,
) -> list[Path]:
    """Restore every input image with the model of `run` and write PNGs of the same names into `out`
    (`progress`: show the latent search's steps)."""
    model = load(run)
    check_restorable(model)
    mod = modality_of(model)
    files = mod.input_files(inputs, "--input")
    read = [read_image(f, model.shape[0], input_size(model, task, scale)) for f in files]
    stored = torch.cat([r[0] for r in read])
    known = None
    if task == "inpaint":
        if (mask is None) == (mask_box is None):
            raise ConfigError("--task inpaint needs the missing pixels: --mask FILE_OR_FOLDER or --mask-box x,y,w,h")
        _, h, w = model.shape
        if mask_box is not None:
            known = box_mask(model.shape, mask_box, len(files))
        elif Path(mask).is_dir():
            known = torch.cat([read_mask(Path(mask) / f.name, (w, h)) for f in files])
        else:
            known = read_mask(Path(mask), (w, h)).repeat(len(files), 1, 1, 1)
    observed, degradation = observe(model, task, stored, known, scale)
    index = class_index(model, label)
    labels = None if index is None else model.labels(len(files), label=index)
    restored = mod.to_stored(restore_with(model, task, observed, degradation, labels, steps, restarts, seed, progress))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f, img in zip(files, mod.to_samples(restored)):
        written.append(out / f"{f.stem}.png")
        Image.fromarray(img[..., 0] if model.shape[0] == 1 else img).save(written[-1])
    publish(model, written, mode=f"restore {task}", seed=seed)
    return written
