"""Corruptions that make (damaged, clean) training pairs on the fly, for restoration models.

A corruption is written as `kind` or `kind:value`:

- `box[:f]`      a rectangle missing, each side a random f/2..f of the image (default 0.6) anywhere;
- `random[:p]`   each pixel missing with probability p (default: p itself drawn from 0.25..0.75);
- `downscale:s`  the image averaged down by s (s x s pixels -> 1) and scaled back up bilinearly;
- `blur[:sigma]` a Gaussian blur of `sigma` pixels (default 1.0);
- `noise[:std]`  Gaussian noise of `std` in [0, 1] pixel units (default 0.1).

Every corruption returns the damaged image at full resolution and the mask of pixels it left exactly
as they were (1 = known exactly: the pixels around a hole; 0 everywhere for the others), so a model
gets one input form for all of them and can paste the known pixels back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F

KINDS = {"box": 0.6, "random": None, "downscale": None, "blur": 1.0, "noise": 0.1}


@dataclass(frozen=True)
class Corruption:
    kind: str
    value: Optional[float] = None

    @classmethod
    def parse(cls, spec: str) -> "Corruption":
        """'downscale:4' -> Corruption('downscale', 4.0); a bad spec raises ValueError saying what is expected."""
        kind, _, arg = spec.strip().partition(":")
        expected = "expected box[:fraction], random[:p], downscale:S, blur[:sigma] or noise[:std]"
        if kind not in KINDS:
            raise ValueError(f"unknown corruption {spec!r}; {expected}")
        try:
            value = float(arg) if arg else KINDS[kind]
        except ValueError:
            raise ValueError(f"corruption {spec!r}: {arg!r} is not a number; {expected}") from None
        if kind == "downscale" and (value is None or value < 2 or value != int(value)):
            raise ValueError(f"corruption {spec!r}: downscale needs a whole factor of 2 or more, e.g. downscale:4")
        if kind in ("box", "random") and value is not None and not 0 < value < 1:
            raise ValueError(f"corruption {spec!r}: the fraction must lie between 0 and 1")
        if kind in ("blur", "noise") and not value > 0:
            raise ValueError(f"corruption {spec!r}: {kind} needs a positive strength")
        return cls(kind, value)

    @property
    def task(self) -> str:
        """The `genforge restore --task` this corruption trains for."""
        return {"box": "inpaint", "random": "inpaint", "downscale": "superres", "blur": "deblur"}.get(
            self.kind, "denoise"
        )

    @property
    def scale(self) -> int:
        return int(self.value) if self.kind == "downscale" else 1

    def check_size(self, h: int, w: int) -> None:
        if self.kind == "downscale" and (h % self.scale or w % self.scale):
            raise ValueError(f"corruption downscale:{self.scale} needs a side divisible by it; the images are {w}x{h}")

    def __call__(self, x: torch.Tensor, gen: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean images [N, C, H, W] in [-1, 1] -> (damaged [N, C, H, W], known [N, 1, H, W]).
        Random draws come from `gen` (the global generator when None), on the CPU."""
        n, _, h, w = x.shape
        rand = lambda *s: torch.rand(*s, generator=gen).to(x.device)  # noqa: E731
        zeros = torch.zeros(n, 1, h, w, device=x.device)
        if self.kind == "box":
            f = self.value
            bh = (h * f * (0.5 + 0.5 * rand(n))).long().clamp(1, h - 1)
            bw = (w * f * (0.5 + 0.5 * rand(n))).long().clamp(1, w - 1)
            y0, x0 = (rand(n) * (h - bh + 1)).long(), (rand(n) * (w - bw + 1)).long()
            rows, cols = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
            inside_r = (rows >= y0[:, None]) & (rows < (y0 + bh)[:, None])  # [N, H]
            inside_c = (cols >= x0[:, None]) & (cols < (x0 + bw)[:, None])  # [N, W]
            known = 1.0 - (inside_r[:, :, None] & inside_c[:, None, :]).float()[:, None]
            return x * known, known
        if self.kind == "random":
            p = torch.full((n,), self.value, device=x.device) if self.value is not None else 0.25 + 0.5 * rand(n)
            known = (rand(n, 1, h, w) >= p.view(n, 1, 1, 1)).float()
            return x * known, known
        if self.kind == "downscale":
            small = F.avg_pool2d(x, self.scale)  # [N, C, H/s, W/s]
            return upscale(small, self.scale), zeros
        if self.kind == "blur":
            return gaussian_blur(x, self.value), zeros
        noise = torch.randn(x.shape, generator=gen).to(x.device)
        return (x + 2 * self.value * noise).clamp(-1, 1), zeros  # std in [0, 1] units is twice that in [-1, 1]


def upscale(small: torch.Tensor, scale: int) -> torch.Tensor:
    """Low-resolution images [N, C, h, w] -> [N, C, h*s, w*s], bilinear: a restoration model's input form."""
    return F.interpolate(small, scale_factor=scale, mode="bilinear", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of images [N, C, H, W], reflect-padded, kernel radius 3 sigma."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
