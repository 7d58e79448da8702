"""An ex-post sampling prior: a Gaussian mixture fitted to a trained encoder's codes of the training images
(Ghosh et al. 2020, "From variational to deterministic autoencoders").

A VAE's aggregate posterior does not fill N(0, I): codes drawn from the prior land in holes the decoder never
saw during training and decode to smudges. A mixture fitted after training to the posterior means draws codes
from where the data's codes are. It is fitted by scikit-learn's EM; sampling is in torch, seeded.

    weights [K], means [K, D], chol [K, D, D] (lower Cholesky factors of the covariances), fitted [] bool
"""

from __future__ import annotations

from typing import Optional

import torch
from sklearn.mixture import GaussianMixture
from torch import nn


class GaussianMixturePrior(nn.Module):
    def __init__(self, components: int, dim: int):
        super().__init__()
        self.register_buffer("weights", torch.full((components,), 1.0 / components))
        self.register_buffer("means", torch.zeros(components, dim))
        self.register_buffer("chol", torch.eye(dim).expand(components, dim, dim).clone())
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def fit(self, codes: torch.Tensor, seed: int = 0) -> None:
        """Fit to codes [N, D] (EM, full covariances, k-means start)."""
        k = min(len(self.weights), len(codes))
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-5, random_state=seed)
        gmm.fit(codes.double().cpu().numpy())
        w = torch.zeros_like(self.weights)
        w[:k] = torch.from_numpy(gmm.weights_)  # with fewer codes than components, the rest get no weight
        self.weights.copy_(w)
        self.means[:k] = torch.from_numpy(gmm.means_).to(self.means)
        self.chol[:k] = torch.linalg.cholesky(torch.from_numpy(gmm.covariances_)).to(self.chol)
        self.fitted.fill_(True)

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n codes [n, D]: a component by its weight, then its Gaussian."""
        comp = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=generator)  # [n]
        eps = torch.randn(n, self.means.shape[1], 1, generator=generator)  # [n, D, 1]
        return self.means.cpu()[comp] + (self.chol.cpu()[comp] @ eps).squeeze(-1)
