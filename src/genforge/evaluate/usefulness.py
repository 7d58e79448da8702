"""Usefulness: train on synthetic, test on real (TSTR).

A classifier (the extractor's architecture, trained from scratch) learns from
labelled samples and is tested on the real test split; its floor is the same
classifier trained on as many real training images, tested on the same split.
Needs labelled samples: a conditional model's, or a samples.npz with `labels`.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from ..errors import ConfigError
from .features import correct, train_network


def _wilson(p: float, n: int) -> list[float]:
    """95% Wilson score interval of a proportion p over n items."""
    z = 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [centre - half, centre + half]


def _accuracy(x, y, data, steps: int, seed: int) -> float:
    backbone, head = train_network(data, x, y, "classifier", steps, seed=seed)
    return correct(data, backbone, head, data.tensor("test"), data.labels("test")).mean().item()


def usefulness(fake: torch.Tensor, fake_labels: torch.Tensor, data, steps: Optional[int] = None, seed: int = 0) -> dict:
    """Real-test accuracy of a classifier trained on stored samples (fake, fake_labels), beside training on real."""
    if data.test_labels is None or data.n_classes < 2:
        raise ConfigError(f"usefulness needs a labelled data set; {data.name} has no labels")
    fake_labels = fake_labels.long()
    if len(fake_labels) != len(fake) or fake_labels.min() < 0 or fake_labels.max() >= data.n_classes:
        raise ConfigError(f"sample labels must be {len(fake)} integers in 0..{data.n_classes - 1}")
    steps = steps or max(300, min(1500, 3 * math.ceil(len(fake) / 128)))
    n = len(fake)
    idx = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))[:n]
    acc = _accuracy(fake, fake_labels, data, steps, seed)
    floor = _accuracy(data.tensor("train")[idx], data.labels("train")[idx], data, steps, seed)
    n_test = len(data.test)
    return {
        "value": acc,
        "interval": _wilson(acc, n_test),
        "floor": floor,
        "floor_interval": _wilson(floor, n_test),
        "n_train": n,
        "n_test": n_test,
        "steps": steps,
        "note": f"train on {n} samples, test on {n_test} real items; the floor trains on {n} real items",
    }
