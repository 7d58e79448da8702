"""Differentiable augmentation for GANs on small data (DiffAugment, Zhao et al. 2020).

The same kind of random transform is applied to real and fake images before
the discriminator sees them, and gradients flow through it to the generator,
so D cannot overfit a small training set while G is not taught the augmentations.
Policies: `color` (brightness, saturation, contrast), `translation` (shift by up
to 1/8 of the side, zero padding), `cutout` (a zeroed square of half the side),
`gain` (a loudness or contrast change of up to 6 dB about zero). Images are
[B, C, H, W] in [-1, 1]; clips [B, C, L] take translation (in time), cutout (a
zeroed span of a quarter of the clip: the same share as the image's square) and
gain, not color.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout", "gain")
CLIP_POLICIES = ("translation", "cutout", "gain")


def _color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device) - 0.5)  # brightness
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device) + 0.5) + mean  # contrast


def _shift_clips(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """[B, C, L] -> [B, C, L], each clip delayed or advanced by its own k in -s..s samples, zeros shifted in."""
    b, c, n = x.shape
    s = max(1, int(n * ratio + 0.5))
    k = torch.randint(-s, s + 1, (b, 1), device=x.device)
    idx = torch.arange(n, device=x.device)[None] + s - k  # [B, L]: out[i] = x[i - k]
    return F.pad(x, (s, s)).gather(2, idx[:, None].expand(-1, c, -1))


def _cut_span(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """[B, C, L] -> [B, C, L] with a span of ratio * L samples zeroed, wholly inside the clip."""
    b, _, n = x.shape
    half = int(n * ratio + 0.5) // 2
    centre = torch.randint(half, n - half + 1, (b, 1), device=x.device)
    t = torch.arange(n, device=x.device)[None]
    return x * ((t - centre).abs() >= half)[:, None].to(x.dtype)


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    if x.dim() == 3:
        return _shift_clips(x, ratio)
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
    if x.dim() == 3:
        return _cut_span(x, ratio**2)
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    inside = ((gy[None] - oy + ch // 2).clamp(0, h) < ch) & ((gx[None] - ox + cw // 2).clamp(0, w) < cw)
    inside &= (gy[None] >= oy - ch // 2) & (gx[None] >= ox - cw // 2)
    return x * (~inside)[:, None].to(x.dtype)


def _gain(x: torch.Tensor, db: float = 6.0) -> torch.Tensor:
    scale = 10 ** ((torch.rand(x.shape[0], device=x.device) * 2 - 1) * db / 20)  # [B], 0.5..2 at 6 dB
    return x * scale.view(-1, *[1] * (x.dim() - 1))


_FNS = {"color": _color, "translation": _translation, "cutout": _cutout, "gain": _gain}


def check_policies(policy: str, allowed: tuple[str, ...], what: str) -> str:
    """`policy` unchanged, or a ValueError naming its comma-separated names that `what` does not take."""
    bad = [p for p in (q.strip() for q in policy.split(",")) if p and p not in allowed]
    if bad:
        raise ValueError(f"augment policy {bad} is not one for {what}; expected some of {', '.join(allowed)}")
    return policy


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Apply each comma-separated policy in turn; '' returns x unchanged."""
    for name in filter(None, (p.strip() for p in policy.split(","))):
        x = _FNS[name](x)
    return x
