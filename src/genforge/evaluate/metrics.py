"""Sample-quality metrics on precomputed features (and pixels, for memorization).

Each function returns {"value": v, "interval": [lo, hi], ...}. FID and KID use
torchmetrics' implementations, fed the extractor's features through an identity
"feature network"; precision/recall/density/coverage follow Kynkaanniemi et al.
2019 and Naeem et al. 2020 (k-NN balls around real / fake features).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


class _Given(nn.Module):
    """Identity 'feature network': the metric receives features we computed already."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, x):
        return x


def _interval(values) -> list[float]:
    """Central 95% of bootstrap draws."""
    lo, hi = np.percentile(np.asarray(values, dtype=np.float64), [2.5, 97.5])
    return [float(lo), float(hi)]


def _draws(n: int, draws: int, seed: int):
    """Bootstrap index sets (with replacement) of size n."""
    rng = torch.Generator().manual_seed(seed)
    return [torch.randint(0, n, (n,), generator=rng) for _ in range(draws)]


def fid(real: torch.Tensor, fake: torch.Tensor, draws: int = 10, seed: int = 0) -> dict:
    """Frechet distance between Gaussian fits of real and fake features; interval: bootstrap of fake."""
    metric = FrechetInceptionDistance(feature=_Given(real.shape[1]), reset_real_features=False)
    metric.update(real.double(), real=True)

    def one(f):
        metric.reset()
        metric.update(f.double(), real=False)
        return float(metric.compute())

    return {"value": one(fake), "interval": _interval([one(fake[i]) for i in _draws(len(fake), draws, seed)])}


def kid(real: torch.Tensor, fake: torch.Tensor, subsets: int = 50, subset_size: int = 1000, seed: int = 0) -> dict:
    """Kernel (polynomial MMD^2) distance; unbiased, so its floor is ~0 at any N.
    Interval: mean +- one std of the estimates over random subsets."""
    size = min(subset_size, len(real), len(fake))
    torch.manual_seed(seed)
    with warnings.catch_warnings():  # its note that it keeps every feature: these are small, and already in memory
        warnings.filterwarnings("ignore", message=".*will save all extracted features", category=UserWarning)
        metric = KernelInceptionDistance(feature=_Given(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    mean, std = (float(v) for v in metric.compute())
    return {"value": mean, "interval": [mean - std, mean + std], "subset_size": size}


def _kth_radius(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row [N]."""
    out = []
    for c in x.split(chunk):
        d = torch.cdist(c, x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the row itself is at distance 0
    return torch.cat(out)


def _ball_counts(q: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048):
    """For each query: how many balls (centre, radius) contain it, and the nearest centre's distance."""
    counts, nearest = [], []
    for c in q.split(chunk):
        d = torch.cdist(c, centres)
        counts.append((d <= radii[None]).sum(1))
        nearest.append(d.min(1).values)
    return torch.cat(counts), torch.cat(nearest)


def _bootstrap_mean(flags: torch.Tensor, draws: int, seed: int) -> list[float]:
    """95% bootstrap interval of the mean of a per-item vector."""
    return _interval([float(flags[i].mean()) for i in _draws(len(flags), draws, seed)])


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5, draws: int = 200, seed: int = 0) -> dict[str, dict]:
    """Precision, recall, density and coverage with k-NN balls.

    Precision and density are means over samples, recall and coverage means over
    real images; each interval bootstraps the items its mean runs over, with the
    balls fixed (resampling the samples themselves would duplicate points and bias
    recall and coverage down). `k` shrinks to fit a side of k items or fewer (a small data set's floor on a
    handful of held-out items); the figures say which k they used, NaN where a side has one item."""
    k = min(k, len(real) - 1, len(fake) - 1)
    if k < 1:
        nan = {"value": float("nan"), "interval": [float("nan")] * 2, "k": 0}
        return {m: dict(nan) for m in ("precision", "recall", "density", "coverage")}
    r_real = _kth_radius(real, k)
    in_real, _ = _ball_counts(fake, real, r_real)  # [M]: real balls holding each sample
    in_fake, real_to_fake = _ball_counts(real, fake, _kth_radius(fake, k))  # [N]: sample balls holding each real
    per_item = {
        "precision": (in_real > 0).double(),
        "recall": (in_fake > 0).double(),
        "density": in_real.double() / k,
        "coverage": (real_to_fake <= r_real).double(),
    }
    return {
        m: {"value": float(v.mean()), "interval": _bootstrap_mean(v, draws, seed), "k": k} for m, v in per_item.items()
    }


def classifier_score(probs: torch.Tensor, splits: int = 10) -> dict:
    """exp(E_x KL(p(y|x) || p(y))) with the data's own classifier (the Inception Score's analogue).
    Interval: spread over `splits` disjoint parts."""
    scores = []
    for part in probs.double().chunk(splits):
        py = part.mean(0, keepdim=True)
        kl = (part * (torch.log(part + 1e-12) - torch.log(py + 1e-12))).sum(1).mean()
        scores.append(float(kl.exp()))
    whole = probs.double()
    py = whole.mean(0, keepdim=True)
    value = float((whole * (torch.log(whole + 1e-12) - torch.log(py + 1e-12))).sum(1).mean().exp())
    return {"value": value, "interval": [min(scores), max(scores)], "splits": splits}


def modified_inception_score(probs: torch.Tensor, splits: int = 10) -> dict:
    """mIS (Gurumurthy et al. 2017, the WaveGAN paper's second score): exp of the mean KL between the class
    posteriors of every ordered pair of samples. Interval: spread over `splits` disjoint parts."""

    def one(p: torch.Tensor) -> float:
        logp = torch.log(p + 1e-12)
        kl = (p * logp).sum(1, keepdim=True) - p @ logp.t()  # [n, n]: KL(p_i || p_j)
        return float(kl.mean().exp())

    p = probs.double()
    parts = [one(part) for part in p.chunk(splits)]
    return {"value": one(p), "interval": [min(parts), max(parts)], "splits": splits}


def class_histogram(probs: torch.Tensor, data_shares: np.ndarray, names: list[str]) -> dict:
    """Share of samples the classifier assigns to each class, beside the data's share.
    Mode dropping shows by name; `value` is the smallest ratio sample share / data share."""
    k = len(names)
    shares = torch.bincount(probs.argmax(1), minlength=k).double() / len(probs)
    ratios = shares.numpy() / np.maximum(data_shares, 1e-12)
    per_class = {
        n: {"samples": round(float(s), 4), "data": round(float(d), 4)} for n, s, d in zip(names, shares, data_shares)
    }
    worst = int(np.argmin(ratios))
    return {
        "value": float(ratios.min()),
        "per_class": per_class,
        "note": f"class '{names[worst]}' has {100 * shares[worst]:.1f}% of samples, "
        f"{100 * data_shares[worst]:.1f}% of data",
    }


def class_agreement(probs: torch.Tensor, labels: torch.Tensor) -> dict:
    """Conditional models: the share of samples that the data's classifier assigns to the class they
    were generated for (its floor, on real test images, is the classifier's accuracy). Normal interval."""
    return share_right(probs.argmax(1) == labels.to(probs.device).long())


def share_right(hit: torch.Tensor) -> dict:
    """The share of True in `hit` [N] (bool), with a normal 95% interval."""
    m = hit.double().mean().item()
    se = (m * (1 - m) / len(hit)) ** 0.5
    return {"value": m, "interval": [max(0.0, m - 1.96 * se), min(1.0, m + 1.96 * se)]}


def pairwise_correlation(x: torch.Tensor, n: int = 256, seed: int = 0) -> dict:
    """Mean absolute Pearson correlation (lag 0) between every pair of up to `n` signals x [N, T], a seeded
    subset: near 1 when a generator repeats one sound, small for real clips that start at their own times.
    Interval: the central 95% of the pairs' mean over 200 bootstrap draws of the signals."""
    if len(x) > n:
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]
    x = x.double() - x.double().mean(1, keepdim=True)
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    c = (x @ x.T).abs().fill_diagonal_(0)  # [n, n]
    m = len(x)
    value = (c.sum() / (m * (m - 1))).item()
    boot = []
    for idx in _draws(m, 200, seed):
        sub = c[idx][:, idx]
        pairs = (idx[:, None] != idx[None]).sum().item()  # a drawn signal paired with its own copy counts 0
        boot.append(sub.sum().item() / max(pairs, 1))
    return {"value": value, "interval": _interval(boot)}


def nearest_distances(q: torch.Tensor, ref: torch.Tensor, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each query row's nearest reference row, L2, chunked."""
    ref_sq = (ref * ref).sum(1)
    dists, idx = [], []
    for c in q.split(chunk):
        d2 = (c * c).sum(1, keepdim=True) - 2 * c @ ref.t() + ref_sq[None]
        m = d2.min(1)
        dists.append(m.values.clamp_min(0).sqrt())
        idx.append(m.indices)
    return torch.cat(dists), torch.cat(idx)


def memorization(
    fake_px: torch.Tensor, train_px: torch.Tensor, threshold: float, draws: int = 200, seed: int = 0, keep: int = 16
) -> dict:
    """Share of samples whose nearest training image (pixel L2, [-1, 1]) is closer than `threshold`.

    `threshold` is a low quantile of the same distance for held-out real images
    (`near_copy_threshold`): novel images rarely come that close to the training
    set, while a model that copies its training images scores near 1. The closest
    pairs are kept for the report."""
    d_fake, i_fake = nearest_distances(fake_px, train_px)
    flags = (d_fake <= threshold).double()
    order = torch.argsort(d_fake)[:keep]
    return {
        "value": float(flags.mean()),
        "interval": _bootstrap_mean(flags, draws, seed),
        "threshold": threshold,
        "median_distance": float(d_fake.median()),
        "closest": [{"sample": int(i), "train": int(i_fake[i]), "distance": round(float(d_fake[i]), 4)} for i in order],
    }


def near_copy_threshold(heldout_px: torch.Tensor, train_px: torch.Tensor, quantile: float = 0.01) -> float:
    """The `quantile` of held-out real images' distances to their nearest training image."""
    return float(torch.quantile(nearest_distances(heldout_px, train_px)[0], quantile))


def held_out_threshold(memo, test: torch.Tensor, train_vectors: torch.Tensor) -> float:
    """`near_copy_threshold` calibrated on every other held-out item from the first (`memo`: stored items ->
    near-copy vectors); the memorization floor is measured on the other half."""
    return near_copy_threshold(memo(test[0::2]), train_vectors)
