"""Proof that the figures mean something: `python -m genforge.evaluate.sanity --data digits`.

Feeds the metrics "samples" whose faults are known: held-out real images (the
floor), real images blurred or noised at growing strength, real images from half
of the classes or from one class, and training images returned as samples. A
trustworthy metric orders them as expected; tests assert these orders.
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

from ..config import DataConfig
from ..data import ImageData, load_data, to_float, to_uint8
from .evaluate import evaluate_samples
from .features import get_extractor

COLUMNS = (
    "fid",
    "kid",
    "precision",
    "recall",
    "density",
    "coverage",
    "classifier_score",
    "class_histogram",
    "near_copy_share",
)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of uint8 images [N, C, H, W] (separable, reflect padding)."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    y = F.pad(to_float(x), (r, r, r, r), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return to_uint8(y)


def noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """Additive Gaussian noise of std `sigma` in [0, 1] pixel units."""
    g = torch.Generator().manual_seed(seed)
    return to_uint8(to_float(x) + 2 * sigma * torch.randn(x.shape, generator=g))


def conditions(data: ImageData, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """name -> uint8 'samples' [n', C, H, W] with a known fault."""
    g = torch.Generator().manual_seed(seed)
    test, train = data.tensor("test"), data.tensor("train")
    pick = lambda x, m: x[torch.randperm(len(x), generator=g)[: min(m, len(x))]]  # noqa: E731
    real = pick(test, n)
    out = {"real (floor)": real}
    for s in (0.5, 1.0, 2.0):
        out[f"blur sigma={s}"] = blur(real, s)
    for s in (0.05, 0.1, 0.2):
        out[f"noise sigma={s}"] = noise(real, s, seed)
    if data.test_labels is not None and data.n_classes >= 2:
        y = data.labels("test")
        half = data.n_classes // 2
        out[f"classes 0..{half - 1} only"] = pick(test[y < half], n)
        out["one class (0)"] = pick(test[y == 0], n)
    out["training images"] = pick(train, n)
    return out


def sanity_table(data: ImageData, n: int = 5000, seed: int = 0, extractor_steps=None, log=print) -> dict[str, dict]:
    """{condition: {metric: value}} over `conditions`."""
    ext = get_extractor(data, steps=extractor_steps, log=log)
    rows = {}
    for name, imgs in conditions(data, n, seed).items():
        res = evaluate_samples(imgs, data, ext, n_real=n, floors=False, draws=3, seed=seed)
        rows[name] = {k: v["value"] for k, v in res["metrics"].items()} | {"n": len(imgs)}
    return rows


def format_table(rows: dict[str, dict]) -> str:
    cols = [c for c in COLUMNS if any(c in r for r in rows.values())]
    lines = ["| samples | n | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['n']} | " + " | ".join(f"{r[c]:.4g}" if c in r else "" for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("-n", type=int, default=5000, help="samples per condition (at most the test split)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    data = load_data(DataConfig(source=args.data))
    print(f"data {data.name} ({data.fingerprint}); reference: {min(args.n, len(data.train))} training images")
    print(format_table(sanity_table(data, args.n, args.seed)))


if __name__ == "__main__":
    main()
