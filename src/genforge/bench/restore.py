"""Restoration of held-out images by trained runs, beside the classical baselines, on the same images.

    python -m genforge.bench.restore RUN [RUN ...] [-n 500] [--steps 300] [--restarts 8]

A GAN or VAE run restores every task by latent optimisation; a pix2pix run restores the task it was trained
for (its model.corruption) and is left out of the others.

Tasks (on the runs' data's test split): a centre box of half the side missing, 50% of the pixels missing at
random, x2 and x4 super-resolution (average-pooled inputs). Baselines: mean fill, OpenCV's Telea and
Navier-Stokes inpainting and scikit-image's biharmonic inpainting (each when installed: the `restore`
extra), nearest / bilinear / bicubic upscaling. Figures: PSNR of the whole image and of the missing pixels,
SSIM, the data classifier's accuracy on the restored images (the clean images' beside it), and the FID of
restored against clean images in the evaluation's feature space.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure

from ..errors import ConfigError
from ..evaluate import get_extractor
from ..evaluate.metrics import fid
from ..modalities import modality_of
from ..modalities.image.dataset import to_float, to_uint8
from ..restore import Degradation, box_mask, random_mask, restore_with
from ..run import load


def psnr(a: torch.Tensor, b: torch.Tensor, where: torch.Tensor | None = None) -> float:
    """Mean PSNR (dB) of images in [-1, 1], over all pixels or those where `where` is 1."""
    err = (a - b).pow(2) / 4.0  # on [0, 1]
    w = torch.ones_like(err) if where is None else where.expand_as(err)
    mse = (err * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp(min=1)
    return float((10 * torch.log10(1.0 / mse.clamp(min=1e-10))).mean())


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(structural_similarity_index_measure((a + 1) / 2, (b + 1) / 2, data_range=1.0, kernel_size=7))


def classical_inpaint(x: torch.Tensor, known: torch.Tensor, method: str) -> torch.Tensor | None:
    """A baseline fill of the missing pixels; None when its library is not installed."""
    if method == "mean fill":
        mean = (x * known).flatten(1).sum(1) / known.flatten(1).sum(1)
        return x * known + (1 - known) * mean.view(-1, 1, 1, 1)
    imgs = to_uint8(x * known).permute(0, 2, 3, 1).numpy()
    holes = (1 - known[:, 0]).numpy().astype(np.uint8)
    try:
        if method == "skimage biharmonic":
            # deferred: the optional `restore` extra
            from skimage.restoration import inpaint_biharmonic

            out = [inpaint_biharmonic(im / 255.0, h.astype(bool), channel_axis=-1) * 255 for im, h in zip(imgs, holes)]
        else:
            # deferred: the optional `restore` extra
            import cv2

            flag = cv2.INPAINT_TELEA if method == "OpenCV Telea" else cv2.INPAINT_NS
            out = [cv2.inpaint(im, h, 3, flag).reshape(im.shape) for im, h in zip(imgs, holes)]
    except ImportError:
        return None
    return to_float(torch.from_numpy(np.stack(out).round().clip(0, 255).astype(np.uint8)).permute(0, 3, 1, 2))


def upscale(low: torch.Tensor, scale: int, mode: str) -> torch.Tensor:
    extra = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(low, scale_factor=scale, mode=mode, **extra).clamp(-1, 1)


def figures(restored, clean, missing, ext, clean_feats, labels) -> dict:
    stored = to_uint8(restored)
    feats, probs = ext.embed(stored)
    row = {"PSNR": psnr(restored, clean), "PSNR missing": psnr(restored, clean, missing), "SSIM": ssim(restored, clean)}
    if probs is not None and labels is not None:
        row["accuracy"] = float((probs.argmax(1) == labels).float().mean())
    row["FID"] = fid(clean_feats, feats, draws=2)["value"]
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--restarts", type=int, default=8)
    args = ap.parse_args(argv)

    models = [load(r) for r in args.runs]
    data = modality_of(models[0]).load(models[0].run_config.data)
    clean = to_float(data.tensor("test")[: args.n])
    labels = data.labels("test")[: args.n] if data.n_classes else None
    ext = get_extractor(data, log=lambda s: None)
    clean_feats, clean_probs = ext.embed(to_uint8(clean))
    shape = models[0].shape
    side = shape[1]
    box = (side // 4, side // 4, side // 2, side // 2)
    tasks = {
        f"inpaint: centre {side // 2}x{side // 2} box": box_mask(shape, box, len(clean)),
        "inpaint: 50% of pixels at random": random_mask(shape, 0.5, len(clean), seed=1),
        f"super-resolution x2 ({side // 2} -> {side})": 2,
        f"super-resolution x4 ({side // 4} -> {side})": 4,
    }
    acc = ""
    if clean_probs is not None and labels is not None:
        right = float((clean_probs.argmax(1) == labels).float().mean())
        acc = f"; the classifier's accuracy on the clean images: {right:.3f}"
    print(f"{len(clean)} held-out {data.name} images{acc}\n")
    for task, spec in tasks.items():
        print(f"### {task}\n\n| method | PSNR | PSNR missing | SSIM | accuracy | FID | seconds |")
        print("|---|---|---|---|---|---|---|")
        if isinstance(spec, int):
            deg, observed = Degradation(scale=spec), F.avg_pool2d(clean, spec)
            missing = None
            baselines = {m: upscale(observed, spec, m) for m in ("nearest", "bilinear", "bicubic")}
        else:
            deg, observed, missing = Degradation(known=spec), clean * spec, 1 - spec
            methods = ("mean fill", "OpenCV Telea", "OpenCV Navier-Stokes", "skimage biharmonic")
            baselines = {m: classical_inpaint(clean, spec, m) for m in methods}
        rows = {m: (b, 0.0) for m, b in baselines.items() if b is not None}
        for run, model in zip(args.runs, models):
            t0 = time.perf_counter()
            try:
                kind = "superres" if isinstance(spec, int) else "inpaint"
                out = restore_with(model, kind, observed, deg, steps=args.steps, restarts=args.restarts)
            except ConfigError:  # a pix2pix model trained for another damage
                continue
            rows[f"genforge {model.name} ({Path(run).name})"] = (out, time.perf_counter() - t0)
        for name, (out, secs) in rows.items():
            r = figures(out, clean, missing, ext, clean_feats, labels)
            miss = f"{r['PSNR missing']:.2f}" if missing is not None else ""
            cells = [f"{r['PSNR']:.2f}", miss, f"{r['SSIM']:.3f}", f"{r.get('accuracy', float('nan')):.3f}"]
            print(f"| {name} | {' | '.join(cells)} | {r['FID']:.3g} | {secs:.1f} |")
        print()


if __name__ == "__main__":
    main()
