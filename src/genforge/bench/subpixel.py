"""Does a stride-2 transposed convolution run faster as one ordinary convolution plus pixel_shuffle?

    python -m genforge.bench.subpixel [--threads 1] [--repeats 3]

The sub-pixel (phase) decomposition: output row o = 2m + r (phase r in {0, 1}) only receives the taps k with
k = (r + p) mod 2, so each of the four (row, column) phases is a plain correlation of the input with a
flipped sub-kernel; stacking the four sub-kernels, zero-padded to one window, gives a single convolution
with 4 x C_out channels at the input's resolution, and pixel_shuffle interleaves the phases. The same
mathematics to float rounding, with the same weight tensor. Timed against nn.ConvTranspose2d (forward and
backward) on the generator layers of the article's and the default DCGAN; ratios > 1 mean the
decomposition is faster.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


def _axis(n: int, k: int, p: int, op: int):
    """Per phase: (flipped taps, padding in front); the common front padding, window size and output length."""
    plans = []
    for r in (0, 1):
        k0 = (r + p) % 2
        taps = list(range(k0, k, 2))
        plans.append((taps[::-1], len(taps) - 1 - (r + p - k0) // 2))
    front = max(f for _, f in plans)
    return plans, front, max(front - f + len(t) for t, f in plans), (n - 1) * 2 - 2 * p + k + op


class SubpixelConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d (stride 2, groups 1) computed as one convolution and pixel_shuffle."""

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        (h, w), (kh, kw), (ph, pw) = x.shape[-2:], self.kernel_size, self.padding
        py, fy, ky, out_h = _axis(h, kh, ph, self.output_padding[0])
        px, fx, kx, out_w = _axis(w, kw, pw, self.output_padding[1])
        cin, cout = self.weight.shape[:2]
        wt = self.weight.transpose(0, 1)  # [C_out, C_in, kh, kw]
        phases = self.weight.new_zeros(cout, 2, 2, cin, ky, kx)
        for ry, (ty, oy) in enumerate(py):
            for rx, (tx, ox) in enumerate(px):
                phases[:, ry, rx, :, fy - oy : fy - oy + len(ty), fx - ox : fx - ox + len(tx)] = wt[:, :, ty][..., tx]
        need_h, need_w = (out_h + 1) // 2, (out_w + 1) // 2
        xp = F.pad(x, (fx, need_w + kx - 1 - w - fx, fy, need_h + ky - 1 - h - fy))
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        y = F.conv2d(xp, phases.flatten(0, 2), bias)  # [B, C_out * 4, ceil(H_out / 2), ceil(W_out / 2)]
        return F.pixel_shuffle(y, 2)[..., :out_h, :out_w]


LAYERS = {  # name: (C_in, C_out, kernel, padding, output_padding, input side, batch)
    "article 128->64 k5, 7->14, batch 256": (128, 64, 5, 2, 1, 7, 256),
    "article 64->1 k5, 14->28, batch 256": (64, 1, 5, 2, 1, 14, 256),
    "default 64->32 k3, 7->14, batch 64": (64, 32, 3, 1, 1, 7, 64),
    "default 32->1 k3, 14->28, batch 64": (32, 1, 3, 1, 1, 14, 64),
}


def pair(c_in, c_out, k, p, op) -> tuple[nn.Module, nn.Module]:
    """(nn.ConvTranspose2d, the decomposition with the same weights)."""
    ref = nn.ConvTranspose2d(c_in, c_out, k, 2, p, output_padding=op, bias=False)
    sub = SubpixelConvTranspose2d(c_in, c_out, k, 2, p, output_padding=op, bias=False)
    sub.load_state_dict(ref.state_dict())
    return ref, sub


def seconds(layer: nn.Module, x: torch.Tensor, reps: int = 10) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        layer(x).sum().backward()
    return (time.perf_counter() - t0) / reps


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{args.threads} thread(s); speed-up = ConvTranspose2d time / sub-pixel time, min/median/max of rounds\n")
    print("| layer | ConvTranspose2d ms | sub-pixel ms | speed-up | max abs difference |\n|---|---|---|---|---|")
    for name, (c_in, c_out, k, p, op, n, b) in LAYERS.items():
        ref, sub = pair(c_in, c_out, k, p, op)
        x = torch.randn(b, c_in, n, n, requires_grad=True)
        with torch.no_grad():
            diff = float((ref(x) - sub(x)).abs().max())
        seconds(ref, x, 2), seconds(sub, x, 2)  # warm-up
        rounds = [(seconds(ref, x), seconds(sub, x)) for _ in range(args.repeats)]
        ratios = [a / s for a, s in rounds]
        a, s = (statistics.median(v) for v in zip(*rounds))
        spread = f"{min(ratios):.2f} / {statistics.median(ratios):.2f} / {max(ratios):.2f}"
        print(f"| {name} | {a * 1e3:.1f} | {s * 1e3:.1f} | {spread} | {diff:.1e} |")


if __name__ == "__main__":
    main()
