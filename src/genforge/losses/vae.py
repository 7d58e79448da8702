"""The VAE's evidence lower bound (Kingma & Welling 2014).

For an image x (pixels scaled to [0, 1]) and q(z|x) = N(mu, diag(exp(logvar))):

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))

with one reparameterised sample z = mu + exp(logvar / 2) * eps. The loss is the
negative ELBO (`recon + beta * kl`), each term summed over pixels / latent
dimensions of one image and averaged over the batch, so it is in nats per image.

- bernoulli: log p(x|z) = -BCE(logits, x), the decoder emits logits;
- gaussian:  log p(x|z) = log N(x; sigmoid(logits), sigma^2), fixed sigma;
- gaussian_learned: the same with a per-pixel sigma that the decoder outputs.
KL is analytic: 0.5 * sum(mu^2 + exp(logvar) - 1 - logvar).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F


def decoder_mean(logits: torch.Tensor, channels: int) -> torch.Tensor:
    """Mean of p(x|z) in [0, 1]: the sigmoid of the first `channels` output maps."""
    return torch.sigmoid(logits[:, :channels])


def reconstruction_nll(x01: torch.Tensor, logits: torch.Tensor, kind: str, sigma: float) -> torch.Tensor:
    """-log p(x|z) per image [B], summed over pixels.

    bernoulli: logits [B, C, H, W]; gaussian: mean sigmoid(logits), fixed sigma;
    gaussian_learned: logits [B, 2C, H, W], the second half is log sigma per pixel
    (clamped to [-7, 2] for stability), so the decoder learns its own noise level."""
    c = x01.shape[1]
    if kind == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(logits, x01, reduction="none")
    elif kind in ("gaussian", "gaussian_learned"):
        mean = decoder_mean(logits, c)
        if kind == "gaussian":
            log_sigma = torch.full_like(mean, math.log(sigma))
        else:
            log_sigma = logits[:, c:].clamp(-7.0, 2.0)
        nll = 0.5 * ((x01 - mean) * torch.exp(-log_sigma)) ** 2 + log_sigma + 0.5 * math.log(2 * math.pi)
    else:
        raise ValueError(f"unknown reconstruction '{kind}': expected bernoulli, gaussian or gaussian_learned")
    return nll.flatten(1).sum(1)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per latent dimension [B, D]."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def warmed_beta(beta: float, warmup: int, steps_done: Optional[torch.Tensor]) -> float:
    """The KL weight of this step: `beta` ramped linearly over `warmup` steps (0: no ramp, and no `steps_done`);
    advances the step-count buffer `steps_done` (a buffer, so that a resumed run continues the ramp)."""
    if not warmup:
        return beta
    weight = beta * min(1.0, (steps_done.item() + 1) / warmup)
    steps_done += 1
    return weight


def elbo(
    x01, logits, mu, logvar, kind: str = "bernoulli", sigma: float = 0.1, beta: float = 1.0, free_bits: float = 0.0
):
    """(loss, recon, kl): loss = mean over batch of recon + beta * kl, in nats per image.

    With free_bits > 0 the penalised KL of each latent dimension (its batch mean) is
    max(KL_d, free_bits), so dimensions are not pushed below that many nats; the
    returned `kl` is always the true one."""
    recon = reconstruction_nll(x01, logits, kind, sigma).mean()
    kl_d = kl_per_dim(mu, logvar).mean(0)  # [D]
    kl = kl_d.sum()
    penalised = kl_d.clamp(min=free_bits).sum() if free_bits > 0 else kl
    return recon + beta * penalised, recon, kl
