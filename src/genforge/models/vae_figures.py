"""VAE figures on the test split: ELBO, an importance-weighted bound on NLL, KL per
latent dimension, active units and reconstruction error.

IWAE (Burda et al. 2016): log p(x) >= log (1/k) sum_i p(x, z_i) / q(z_i|x),
z_i ~ q(z|x); tighter than the ELBO as k grows (k = 1 is the ELBO). Values are in
nats per image; bits/dim divides by (pixels x ln 2). They are densities of the
decoder's likelihood (Bernoulli on [0, 1] intensities, or a Gaussian with
fixed or learned sigma), not of 8-bit discrete images, so compare them between runs with the
same `model.reconstruction` only.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from ..losses.vae import decoder_mean, kl_per_dim, reconstruction_nll
from ..modalities import modality_of


def _interval(per_image: torch.Tensor) -> list[float]:
    """Normal-approximation 95% interval of a mean over images."""
    m, se = per_image.mean().item(), per_image.std().item() / math.sqrt(len(per_image))
    return [m - 1.96 * se, m + 1.96 * se]


@torch.no_grad()
def vae_figures(
    model,
    test_u8: torch.Tensor,
    test_labels: Optional[torch.Tensor] = None,
    k: int = 32,
    batch_size: int = 250,
    seed: int = 0,
) -> dict:
    """ELBO, IWAE NLL bound (k samples), bits/dim, reconstruction error, KL per dim, active units.
    A conditional VAE needs the images' labels: its figures are of log p(x | y)."""
    torch.manual_seed(seed)
    model.eval()
    c = model.cfg
    elbos, iw, mse, mus, kls = [], [], [], [], []
    label_chunks = [None] * len(test_u8.split(batch_size)) if test_labels is None else test_labels.split(batch_size)
    for chunk, y in zip(test_u8.split(batch_size), label_chunks):
        x = modality_of(model).to_model(chunk).to(model.device)  # stored form -> [-1, 1]
        y = None if y is None else y.to(model.device)
        x01 = (x + 1) * 0.5
        mu, logvar = model.encode(x, y)
        std = (0.5 * logvar).exp()
        kl = kl_per_dim(mu, logvar)
        recon = reconstruction_nll(x01, model.decoder(mu + std * torch.randn_like(std), y), c.reconstruction, c.sigma)
        elbos.append(-(recon + kl.sum(1)))
        # log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q
        logw = []
        for _ in range(k):
            eps = torch.randn_like(std)
            z = mu + std * eps
            log_px = -reconstruction_nll(x01, model.decoder(z, y), c.reconstruction, c.sigma)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
            log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + logvar).sum(1)
            logw.append(log_px + log_pz - log_qz)
        iw.append(torch.logsumexp(torch.stack(logw), 0) - math.log(k))
        mse.append((decoder_mean(model.decoder(mu, y), x.shape[1]) - x01).pow(2).flatten(1).mean(1))
        mus.append(mu)
        kls.append(kl)
    elbo, nll = torch.cat(elbos), -torch.cat(iw)
    mu_all, kl_all = torch.cat(mus), torch.cat(kls)
    dims = int(np.prod(model.shape))
    active = mu_all.var(0) > 0.01  # Burda et al.: Cov_x(E_q[z_u]) > 0.01
    to_bpd = 1.0 / (dims * math.log(2))
    return {
        "elbo": {"value": elbo.mean().item(), "interval": _interval(elbo), "unit": "nats/image"},
        "nll_iw": {"value": nll.mean().item(), "interval": _interval(nll), "unit": "nats/image", "k": k},
        "bits_per_dim": {"value": nll.mean().item() * to_bpd, "interval": [v * to_bpd for v in _interval(nll)], "k": k},
        "reconstruction_mse": {
            "value": torch.cat(mse).mean().item(),
            "interval": _interval(torch.cat(mse)),
            "unit": "[0,1] pixels",
        },
        "active_units": {
            "value": int(active.sum()),
            "of": int(mu_all.shape[1]),
            "kl_per_dim": [round(v, 4) for v in kl_all.mean(0).tolist()],
        },
        "n_test": len(elbo),
    }
