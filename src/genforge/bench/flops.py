"""FLOPs of a training step and the machine's measured fp32 GEMM peak, so achieved
throughput reads as a share of what this CPU can do (model FLOP utilisation)."""

from __future__ import annotations

import time

import torch
from torch.utils.flop_counter import FlopCounterMode


def gemm_peak(repeats: int = 5, seconds: float = 1.0, n: int = 2048, dtype=torch.float32) -> list[float]:
    """GFLOP/s of n x n matrix products at the current thread count: one rate per timed window."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
    torch.mm(a, b, out=out)  # warm-up
    rates = []
    for _ in range(repeats):
        k, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            torch.mm(a, b, out=out)
            k += 1
        rates.append(2 * n**3 * k / (time.perf_counter() - t0) / 1e9)
    return rates


def step_flops(step, batch: torch.Tensor) -> int:
    """FLOPs of one call of `step` (forward and backward of matmuls and convolutions, counted
    by torch's FlopCounterMode; elementwise work is not counted, as usual for MFU)."""
    with FlopCounterMode(display=False) as counter:
        step(batch)
    return counter.get_total_flops()
