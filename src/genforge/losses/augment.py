"""Differentiable augmentation for GANs on small data (DiffAugment, Zhao et al. 2020).

The same kind of random transform is applied to real and fake images before
the discriminator sees them, and gradients flow through it to the generator,
so D cannot overfit a small training set while G is not taught the augmentations.
Policies: `color` (brightness, saturation, contrast), `translation` (shift by up
to 1/8 of the side, zero padding), `cutout` (a zeroed square of half the side).
Images are [B, C, H, W] in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device) - 0.5)  # brightness
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    tx = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    ty = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy[None] + tx + 1, 0, h + 1)
    gx = torch.clamp(gx[None] + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # the shifted-in border reads zeros
    idx = (gy * (w + 2) + gx).flatten(1)  # [B, H*W]
    flat = padded.flatten(2)  # [B, C, (H+2)*(W+2)]
    return flat.gather(2, idx[:, None].expand(-1, x.shape[1], -1)).view_as(x)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    inside = ((gy[None] - oy + ch // 2).clamp(0, h) < ch) & ((gx[None] - ox + cw // 2).clamp(0, w) < cw)
    inside &= (gy[None] >= oy - ch // 2) & (gx[None] >= ox - cw // 2)
    return x * (~inside)[:, None].to(x.dtype)


_FNS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply each comma-separated policy in turn; '' returns x unchanged."""
    for name in filter(None, (p.strip() for p in policy.split(","))):
        x = _FNS[name](x)
    return x
