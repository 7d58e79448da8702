"""What a restoration knows: masks of known pixels (inpainting) or a downscaling operator (super-resolution).

A mask is a float tensor [N, 1, H, W]: 1 where the pixel is known, 0 where it is missing. Mask files follow
the usual convention the other way round: white (> 127) = missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class Degradation:
    """The operator that made the observation from the clean image (model form, [-1, 1]): a mask of known
    pixels, or average-pooling by `scale` (one low-resolution pixel is the mean of scale x scale pixels)."""

    known: Optional[torch.Tensor] = None  # [N, 1, H, W], 1 = known (inpainting)
    scale: int = 1  # super-resolution factor

    def observe(self, x: torch.Tensor) -> torch.Tensor:
        """Clean images [N, C, H, W] -> what the degradation leaves (masked, or [N, C, H/s, W/s])."""
        return F.avg_pool2d(x, self.scale) if self.scale > 1 else x * self.known

    def misfit(self, x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """Mean squared difference [N] between what x would show and what was observed, over known values."""
        if self.scale > 1:
            return (F.avg_pool2d(x, self.scale) - observed).pow(2).flatten(1).mean(1)
        k = self.known.expand_as(x)
        return ((x - observed) * k).pow(2).flatten(1).sum(1) / k.flatten(1).sum(1).clamp(min=1)

    def rough(self, observed: torch.Tensor) -> torch.Tensor:
        """A first guess at full resolution: missing pixels grey, or the low resolution upsampled."""
        return F.interpolate(observed, scale_factor=self.scale, mode="nearest") if self.scale > 1 else observed

    def repeat(self, r: int) -> "Degradation":
        """The same degradation for each of r restarts ([N, ...] -> [N * r, ...], restarts of one image adjacent)."""
        known = None if self.known is None else self.known.repeat_interleave(r, 0)
        return Degradation(known, self.scale)


def box_mask(shape: tuple[int, int, int], box: tuple[int, int, int, int], n: int = 1) -> torch.Tensor:
    """Known-pixel mask [n, 1, H, W] with the box (x, y, width, height) missing."""
    _, h, w = shape
    x0, y0, bw, bh = box
    if bw <= 0 or bh <= 0 or x0 < 0 or y0 < 0 or x0 + bw > w or y0 + bh > h:
        raise ConfigError(f"--mask-box {x0},{y0},{bw},{bh}: expected x,y,width,height inside the {w}x{h} image")
    known = torch.ones(n, 1, h, w)
    known[:, :, y0 : y0 + bh, x0 : x0 + bw] = 0
    return check(known, f"--mask-box {x0},{y0},{bw},{bh}")


def random_mask(shape: tuple[int, int, int], missing: float, n: int, seed: int = 0) -> torch.Tensor:
    """Known-pixel masks [n, 1, H, W] with each pixel missing with probability `missing`."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, shape[1], shape[2], generator=gen) >= missing).float()


def read_mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A mask image (white = missing) of exactly `size` (width, height) -> known-pixel mask [1, 1, H, W]."""
    try:
        with Image.open(path) as im:
            im.load()
            gray = np.asarray(im.convert("L"))
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable mask image ({e})") from None
    if gray.shape[::-1] != tuple(size):
        w, h = gray.shape[::-1]
        raise DataError(f"{path}: the mask is {w}x{h}, the image it belongs to is {size[0]}x{size[1]}")
    return check(torch.from_numpy((gray <= 127).astype(np.float32))[None, None], str(path))


def check(known: torch.Tensor, where: str) -> torch.Tensor:
    """A mask with something missing and something known, or a named error."""
    if bool(known.flatten(1).min(1).values.eq(1).any()):
        raise DataError(f"{where}: the mask marks no pixel as missing (white = missing): nothing to restore")
    if bool(known.flatten(1).max(1).values.eq(0).any()):
        raise DataError(f"{where}: the mask marks every pixel as missing: there is nothing to restore from")
    return known
