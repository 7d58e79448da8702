"""An ex-post sampling prior: a Gaussian mixture fitted to a trained encoder's codes of the training items
(Ghosh et al. 2020, "From variational to deterministic autoencoders"), for every VAE family (`model.prior`).

A VAE's aggregate posterior does not fill N(0, I): codes drawn from the prior land in holes the decoder never
saw during training and decode to smudges. A mixture fitted after training to draws from the training items'
posteriors (the aggregate posterior) samples codes from where the decoder was trained. A conditional model gets
one mixture per class (its codes hold the class too, and a class-blind code would fight the class asked for).
Fitted by scikit-learn's EM; sampled in torch, seeded.

    weights [C, K], means [C, K, D], chol [C, K, D, D] (lower Cholesky factors), fitted [] bool;  C = 1 if
    unconditional, else the number of classes
"""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal, Optional

import torch
from pydantic import Field
from torch import nn

from ..config import StrictModel
from ..errors import ConfigError

# EM iterations after the k-means start: enough for the samples (FID within noise of a converged fit) at a
# fraction of the time, which counts against the user's budget
MAX_ITER = 20
# codes the mixture is fitted to: EM's time grows with them, and more add little to a 20-component fit
CODES = 20_000


class GaussianMixturePrior(nn.Module):
    def __init__(self, components: int, dim: int, classes: int = 1):
        super().__init__()
        self.register_buffer("weights", torch.full((classes, components), 1.0 / components))
        self.register_buffer("means", torch.zeros(classes, components, dim))
        self.register_buffer("chol", torch.eye(dim).expand(classes, components, dim, dim).clone())
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def fit(self, codes: torch.Tensor, labels: Optional[torch.Tensor] = None, seed: int = 0, draws: int = 1) -> None:
        """Fit to codes [N, D] (and their classes [N] when conditional), `draws` codes per item: EM, full
        covariances, k-means start. A class gets at most one component per D + 1 of its items: a component
        fitted to fewer is singular or sits on those few items, and its samples would be copies of them (small
        data). A class with fewer than D + 1 items keeps N(0, I)."""
        # deferred: scikit-learn takes a second to import; only the end of a gmm-prior run fits a mixture
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture

        labels = torch.zeros(len(codes), dtype=torch.long) if labels is None else labels.long().cpu()
        codes = codes.double().cpu()
        for c in range(len(self.weights)):
            mine = codes[labels == c]
            k = min(self.weights.shape[1], len(mine) // draws // (codes.shape[1] + 1))
            if k < 1:
                continue
            gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-5, max_iter=MAX_ITER, random_state=seed)
            with warnings.catch_warnings():  # MAX_ITER stops EM early on purpose: no warning for the user
                warnings.simplefilter("ignore", ConvergenceWarning)
                gmm.fit(mine.numpy())
            self.weights[c] = 0.0  # components beyond k get no weight
            self.weights[c, :k] = torch.from_numpy(gmm.weights_).to(self.weights)
            self.means[c, :k] = torch.from_numpy(gmm.means_).to(self.means)
            self.chol[c, :k] = torch.linalg.cholesky(torch.from_numpy(gmm.covariances_)).to(self.chol)
        self.fitted.fill_(True)

    def sample(
        self, n: int, generator: Optional[torch.Generator] = None, labels: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """n codes [n, D] (of classes `labels` [n] when conditional): a component by its weight, then its
        Gaussian."""
        cls = torch.zeros(n, dtype=torch.long) if labels is None else labels.long().cpu()
        weights, means, chol = self.weights.cpu(), self.means.cpu(), self.chol.cpu()
        comp = torch.multinomial(weights[cls], 1, generator=generator).squeeze(1)  # [n]
        eps = torch.randn(n, means.shape[2], 1, generator=generator)  # [n, D, 1]
        return means[cls, comp] + (chol[cls, comp] @ eps).squeeze(-1)


class PriorOptions(StrictModel):
    """The config fields of a VAE family's sampling prior."""

    prior: Literal["normal", "gmm"] = Field(
        "normal",
        description="sampling prior: normal N(0, I), or gmm, a Gaussian mixture fitted to the training items' "
        "codes when training ends (samples from where the decoder was trained; the ELBO keeps N(0, I)); one "
        "mixture per class when conditional",
    )
    prior_components: int = Field(10, ge=1, description="components of the gmm sampling prior")


class FittedPrior:
    """A VAE family's side of the fitted prior (mixed in before Family): `self.gmm` is made by `mixture_for` in
    __init__; the family's `encode` gives the codes."""

    gmm: Optional[GaussianMixturePrior]
    # a conditional family's codes fitted one mixture a class (they hold the class too); False: one mixture for
    # every class, for a family whose class is given to the decoder apart from the code (ddsp: the pitch), so
    # that a code seen with one class can be drawn with any (`mixture_for(..., classes=0)` then)
    prior_by_class: ClassVar[bool] = True

    def finish_training(self, train, labels, to_model) -> None:
        """prior=gmm: fit the mixture(s) to draws from the training items' posteriors (`posterior_draws`)."""
        if self.gmm is None:
            return
        codes, code_labels, draws = posterior_draws(self, train, labels if self.conditional else None, to_model)
        self.gmm.fit(codes, code_labels if self.prior_by_class else None, draws=draws)

    def prior(self, n, generator=None, labels=None):
        """prior=gmm, once fitted: codes from the mixture (of each label's class when conditional and
        `prior_by_class`); else N(0, I). A gmm run samples N(0, I) with --set model.prior=normal."""
        if self.cfg.prior == "gmm" and self.gmm is None:  # asked for at sampling time (--set model.prior=gmm)
            raise ConfigError("model.prior=gmm: this run has no fitted mixture (train it with model.prior=gmm)")
        fitted = self.gmm is not None and bool(self.gmm.fitted) and self.cfg.prior == "gmm"
        by_class = self.conditional and self.prior_by_class
        if fitted and (labels is not None or not by_class):
            return self.gmm.sample(n, generator, labels if by_class else None).to(self.device)
        return super().prior(n, generator, labels)


@torch.no_grad()
def posterior_draws(model, train, labels, to_model) -> tuple[torch.Tensor, Optional[torch.Tensor], int]:
    """Codes [M, D] drawn from q(z|x) of (up to 20,000 of) the training items `train` (stored form; `labels` [N]
    or None), as many draws an item as make about 20,000 codes (fewer above 32 latents); their labels [M] or
    None; the draws an item. The draws are the aggregate posterior the decoder was trained on. The posterior
    means alone are narrower (a text VAE's: a spread of 0.5 a dimension against the draws' 1.0), and a mixture
    fitted to them samples only the typical part of the data (docs/text.md, "Fitted to the posterior draws")."""
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:CODES]
    # EM's time grows with codes x D^2: a 128-latent image VAE of a small data set gets one draw an item (its
    # posteriors are narrow beside the spread of their means), a 32-latent text VAE 20,000 codes
    draws = max(1, min(CODES, CODES * 32**2 // model.latent_dim**2) // len(idx))
    noise = torch.Generator().manual_seed(1)
    labels = None if labels is None else labels[idx].long().cpu()  # [N], each item's class
    was_training = model.training
    model.eval()
    codes = []
    for pos in torch.arange(len(idx)).split(1000):
        y = None if labels is None else labels[pos].to(model.device)
        mu, logvar = model.encode(to_model(train[idx[pos]]).to(model.device), y)  # [n, D] each
        codes.append(mu.cpu() + (0.5 * logvar.cpu()).exp() * torch.randn(draws, *mu.shape, generator=noise))
    model.train(was_training)
    # [draws, N, D] -> [draws * N, D], draw-major: the labels repeat in the same order
    return torch.cat(codes, 1).flatten(0, 1), None if labels is None else labels.repeat(draws), draws


def mixture_for(cfg: PriorOptions, latent_dim: int, classes: int) -> Optional[GaussianMixturePrior]:
    """The mixture a family with these options keeps (one per class when conditional), or None for N(0, I)."""
    return GaussianMixturePrior(cfg.prior_components, latent_dim, max(1, classes)) if cfg.prior == "gmm" else None
