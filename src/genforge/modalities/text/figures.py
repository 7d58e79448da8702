"""Likelihood figures of text families on held-out sentences, the columns jxhe/vae-lagging-encoder
reports together: NLL (an importance-weighted bound for a VAE, exact for a language model),
perplexity, KL, mutual information I(x; z) and active units.

- nll_iw: -log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x) (Burda et al. 2016), nats per sentence;
- perplexity: exp(total NLL / total predicted tokens, EOS included);
- mutual_info: E_x E_q[log q(z|x)] - E_q(z)[log q(z)], with the aggregate posterior q(z) estimated
  by the mixture of the held-out sentences' posteriors (Hoffman & Johnson 2016; He et al. 2019);
- active_units: latent dimensions whose posterior mean varies over sentences, Cov_x(E_q[z_u]) > 0.01.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from ...losses.vae import kl_per_dim
from .sentence import n_tokens

LOG2PI = math.log(2 * math.pi)


def _interval(per_item: torch.Tensor) -> list[float]:
    m, se = per_item.mean().item(), per_item.std().item() / math.sqrt(max(len(per_item), 1))
    return [m - 1.96 * se, m + 1.96 * se]


def _gauss_logpdf(z, mu, logvar):
    """log N(z; mu, exp(logvar)) summed over the last dimension."""
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + LOG2PI).sum(-1)


@torch.no_grad()
def text_figures(
    model, test: torch.Tensor, labels: Optional[torch.Tensor], k: int = 32, seed: int = 0, batch_size: int = 250
) -> dict:
    """nll_iw, perplexity, kl, mutual_info, active_units of token ids [N, L] (labels [N] if conditional)."""
    torch.manual_seed(seed)
    model.eval()
    latent = model.latent_dim > 0
    nll, kls, mus, logvars = [], [], [], []
    label_chunks = [None] * len(test.split(batch_size)) if labels is None else labels.split(batch_size)
    for x, y in zip(test.split(batch_size), label_chunks):
        x = x.to(model.device)
        y = None if y is None or not model.conditional else y.to(model.device)
        if not latent:  # a language model's likelihood is exact
            nll.append(-model.log_likelihood_terms(x, y, None))
            continue
        mu, logvar = model.encode(x, y)
        std = (0.5 * logvar).exp()
        logw = []
        for _ in range(k):
            z = mu + std * torch.randn_like(std)
            logw.append(
                model.log_likelihood_terms(x, y, z) - 0.5 * (z.pow(2) + LOG2PI).sum(1) - _gauss_logpdf(z, mu, logvar)
            )
        nll.append(-(torch.logsumexp(torch.stack(logw), 0) - math.log(k)))
        kls.append(kl_per_dim(mu, logvar))
        mus.append(mu)
        logvars.append(logvar)
    nll = torch.cat(nll).double()
    tokens = n_tokens(test).double()
    ppl = math.exp(nll.sum().item() / tokens.sum().item())
    per_token = nll / tokens
    figs = {
        "nll_iw": {
            "value": nll.mean().item(),
            "interval": _interval(nll),
            "unit": "nats/sentence",
            "k": k if latent else 0,
            "note": "importance-weighted bound" if latent else "exact (no latent)",
        },
        "perplexity": {"value": ppl, "interval": [math.exp(v) for v in _interval(per_token)], "unit": "per token"},
    }
    if not latent:
        return figs | {
            "kl": {"value": 0.0, "unit": "nats/sentence"},
            "mutual_info": {"value": 0.0, "unit": "nats"},
            "active_units": {"value": 0, "of": 0},
        }
    mu, logvar, kl = torch.cat(mus), torch.cat(logvars), torch.cat(kls)
    # mutual information: one z per sentence, scored under every sentence's posterior
    neg_entropy = (-0.5 * (LOG2PI + 1 + logvar).sum(1)).mean()
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    log_qz = torch.cat([torch.logsumexp(_gauss_logpdf(zc[:, None], mu[None], logvar[None]), 1) for zc in z.split(256)])
    mi = (neg_entropy - (log_qz - math.log(len(mu))).mean()).item()
    active = mu.var(0) > 0.01
    return figs | {
        "kl": {
            "value": kl.sum(1).mean().item(),
            "interval": _interval(kl.sum(1)),
            "unit": "nats/sentence",
            "kl_per_dim": [round(v, 4) for v in kl.mean(0).tolist()],
        },
        "mutual_info": {"value": mi, "unit": "nats", "note": f"aggregate posterior of {len(mu)} held-out items"},
        "active_units": {"value": int(active.sum()), "of": int(mu.shape[1])},
    }
