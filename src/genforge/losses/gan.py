"""GAN losses on discriminator logits, and the gradient penalties.

`ns` is the article's pair: L_D = -log D(x) - log(1 - D(G(z))),
L_G = -log D(G(z)) (non-saturating), with D(.) = sigmoid(logit); written with
softplus so it is exact for large logits: -log sigmoid(t) = softplus(-t).
`hinge` (Lim & Ye 2017; SAGAN, BigGAN): L_D = relu(1 - D(x)) + relu(1 + D(G(z))),
L_G = -D(G(z)). `wgan` (Arjovsky 2017): L_D = D(G(z)) - D(x), L_G = -D(G(z)),
meant with the gradient penalty (Gulrajani 2017).
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


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def wgan_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return fake.mean() - real.mean()


def critic_g(fake: torch.Tensor) -> torch.Tensor:
    """The generator loss of hinge and WGAN: raise the critic's score of fakes."""
    return -fake.mean()


GAN_LOSSES: dict[str, GANLoss] = {
    "ns": GANLoss(ns_d, ns_g),
    "hinge": GANLoss(hinge_d, critic_g),
    "wgan": GANLoss(wgan_d, critic_g),
}


def r1_penalty(D, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder 2018): mean over real images of ||grad_x D(x)||^2 (weight gamma / 2 outside)."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: mean of (||grad D(x_hat)|| - 1)^2 at random points between real and fake."""
    eps = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device)  # one mix per example
    x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
