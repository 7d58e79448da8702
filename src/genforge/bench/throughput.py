"""Training throughput benchmark: `python -m genforge.bench [--repeats 5] [--seconds 4]`.

Prints images/s (min / median / max over repeats, after warm-up) of every family
and preset through genforge's train step, beside a reference measured in the same
run: the article's DCGAN as a plain eager PyTorch loop written the obvious way
(the TF tutorial translated line by line). Ratios, not absolute numbers, are what
compare across noisy, shared machines.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from .data import to_float
from .models import FAMILIES
from .run import build_model, resolve_config

SHAPE = (1, 28, 28)


def plain_article_dcgan_step():
    """A step function of the article's DCGAN written without genforge (the reference)."""
    lrelu = nn.LeakyReLU(0.3)
    G = nn.Sequential(
        nn.Linear(100, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), lrelu, nn.Unflatten(1, (256, 7, 7)),
        nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128), lrelu,
        nn.ConvTranspose2d(128, 64, 5, 2, 2, 1, bias=False), nn.BatchNorm2d(64), lrelu,
        nn.ConvTranspose2d(64, 1, 5, 2, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, 2), lrelu, nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, 2, 2), lrelu, nn.Dropout(0.3), nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-4), torch.optim.Adam(D.parameters(), 1e-4)
    bce = nn.BCEWithLogitsLoss()

    def step(x):
        fake = G(torch.randn(x.shape[0], 100))
        real_out, fake_out = D(x), D(fake)
        loss_g = bce(fake_out, torch.ones_like(fake_out))
        loss_d = bce(real_out, torch.ones_like(real_out)) + bce(fake_out, torch.zeros_like(fake_out))
        opt_g.zero_grad()
        opt_d.zero_grad()
        gg = torch.autograd.grad(loss_g, list(G.parameters()), retain_graph=True)
        gd = torch.autograd.grad(loss_d, list(D.parameters()))
        for p, g in zip(list(G.parameters()) + list(D.parameters()), gg + gd):
            p.grad = g
        opt_g.step()
        opt_d.step()

    return step, 256


def genforge_step(family: str, preset: str):
    cfg = resolve_config(family, preset)
    model = build_model(cfg, SHAPE)
    opts = model.configure_optimizers(cfg.train)
    bf16 = cfg.train.precision == "bf16"

    def step(x):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.train_step(to_float(x), None, opts)

    return step, cfg.train.batch_size


def measure(step, batch: int, data: torch.Tensor, repeats: int, seconds: float) -> list[float]:
    """images/s of `repeats` timed windows of about `seconds` each, after one warm-up window."""
    rates, i = [], 0
    for r in range(repeats + 1):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            idx = torch.arange(i, i + batch) % len(data)
            step(data[idx])
            i, n = i + batch, n + 1
        if r:  # the first window is warm-up
            rates.append(n * batch / (time.perf_counter() - t0))
    return rates


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = torch.randint(0, 256, (8192, *SHAPE), dtype=torch.uint8)  # throughput does not depend on content
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {SHAPE[1]}x{SHAPE[2]} images, "
          f"{args.repeats} x {args.seconds:g} s windows")
    print("| model | preset | batch | images/s min | median | max | median vs reference |")
    print("|---|---|---|---|---|---|---|")
    ref_step, ref_batch = plain_article_dcgan_step()
    ref_rates = measure(ref_step, ref_batch, to_float(data), args.repeats, args.seconds)
    ref = statistics.median(ref_rates)
    print(f"| reference: plain eager article DCGAN | - | {ref_batch} | {min(ref_rates):.0f} | {ref:.0f} | {max(ref_rates):.0f} | 1.00 |", flush=True)
    for family in FAMILIES.names():
        for preset in FAMILIES.get(family).presets:
            step, batch = genforge_step(family, preset)
            rates = measure(step, batch, data, args.repeats, args.seconds)
            med = statistics.median(rates)
            print(f"| {family} | {preset} | {batch} | {min(rates):.0f} | {med:.0f} | {max(rates):.0f} | {med / ref:.2f} |", flush=True)


if __name__ == "__main__":
    main()
