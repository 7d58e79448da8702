"""GAN losses on discriminator logits.

`ns` is the article's pair: L_D = -log D(x) - log(1 - D(G(z))),
L_G = -log D(G(z)) (non-saturating), with D(.) = sigmoid(logit); written with
softplus so it is exact for large logits: -log sigmoid(t) = softplus(-t).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F


class GANLoss(NamedTuple):
    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (real_logits, fake_logits) -> scalar
    g: Callable[[torch.Tensor], torch.Tensor]  # fake_logits -> scalar


def ns_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def ns_g(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()


GAN_LOSSES: dict[str, GANLoss] = {"ns": GANLoss(ns_d, ns_g)}
