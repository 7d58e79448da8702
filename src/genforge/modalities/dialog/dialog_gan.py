"""dialog-gan: DialogWAE (Gu et al. 2019), a conditional Wasserstein autoencoder whose prior sample comes from
a GAN generator in the latent space, trained adversarially against the posterior. The GAN lives in the
continuous latent, so no gradient has to pass through sampled words.

    posterior  eps_q ~ N(recognition([c, r])), z_q = Q(eps_q)      [B, D]
    prior      eps_p ~ N(prior_net(c)),        z_p = G(eps_p)      [B, D]
    critic     D([z, c]) [B]: WGAN-GP between (z_q, c) and (z_p, c)
    decoder    p(answer | z, c), trained on z_q (the autoencoder); sampling decodes z_p

A step: the autoencoder's reconstruction on z_q; the critic's WGAN-GP loss (posterior codes as real); then the
prior generator and the posterior moved to meet each other (the critic's difference, minimised).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from ...models.base import FAMILIES
from .dialog_model import DialogConfig, DialogFamily, gaussian_head


class DialogGANConfig(DialogConfig):
    gan_lr: float = Field(5e-4, gt=0, description="Adam learning rate of the latent generators and the critic")
    gp_weight: float = Field(10.0, ge=0, description="gradient penalty weight of the critic (WGAN-GP)")


def latent_generator(d: int, hidden: int) -> nn.Module:
    """eps [B, D] -> z [B, D]: the MLP that shapes a Gaussian sample into a code (Q and G in the paper)."""
    return nn.Sequential(
        nn.Linear(d, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden),
        nn.ReLU(), nn.Linear(hidden, d),
    )  # fmt: skip


@FAMILIES.register("dialog-gan")
class DialogGAN(DialogFamily):
    name = "dialog-gan"
    Config = DialogGANConfig
    abilities = frozenset({"answer", "from_data", "conditional"})
    tiny = ("model.embed=32", "model.hidden=32", "model.context_hidden=16", "model.latent_dim=8")
    presets = {
        # the paper's networks at CPU size; its critic steps (5 a generator step) and RMSprop at 5e-5 learn too
        # slowly for minutes of CPU: one critic step and Adam (WGAN-GP's betas) here
        "default": {
            "model": {"dropout": 0.3, "word_dropout": 0.25, "top_p": 1.0},
            "train": {"lr": 1e-3, "betas": [0.9, 0.999], "batch_size": 32},
        },
    }
    search_space = {
        "train.lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
        "model.gan_lr": {"type": "float", "low": 1e-4, "high": 2e-3, "log": True},
        "model.latent_dim": {"type": "categorical", "choices": [16, 32, 64]},
    }

    def __init__(self, cfg: DialogGANConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        d, h = cfg.latent_dim, cfg.hidden
        self.recognition = gaussian_head(self.context_dim + 2 * cfg.context_hidden, h, d)
        self.posterior_gen = latent_generator(d, h)
        self.prior_net = gaussian_head(self.context_dim, h, d)
        self.prior_gen = latent_generator(d, h)
        self.critic = nn.Sequential(
            nn.Linear(d + self.context_dim, h), nn.LeakyReLU(0.2), nn.Linear(h, h), nn.LeakyReLU(0.2), nn.Linear(h, 1)
        )

    def configure_optimizers(self, t):
        adam = lambda params, lr, betas: torch.optim.Adam(params, lr=lr, betas=betas)  # noqa: E731
        gan = (self.prior_net, self.prior_gen, self.recognition, self.posterior_gen)
        ae = [p for n, p in self.named_parameters() if not n.startswith(("critic.", "prior_net.", "prior_gen."))]
        return {
            "ae": adam(ae, t.lr, tuple(t.betas)),
            "g": adam([p for m in gan for p in m.parameters()], self.cfg.gan_lr, (0.5, 0.9)),
            "d": adam(self.critic.parameters(), self.cfg.gan_lr, (0.5, 0.9)),
        }

    def codes(self, c: torch.Tensor, r: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior codes z_q [B, D] given answer codes r, prior codes z_p without."""
        head, gen = (self.prior_net, self.prior_gen) if r is None else (self.recognition, self.posterior_gen)
        mu, logvar = head(c if r is None else torch.cat([c, r], 1)).chunk(2, 1)
        return gen(mu + torch.randn_like(mu) * (0.5 * logvar).exp())

    def latent(self, c, generator=None):
        mu, logvar = self.prior_net(c).chunk(2, 1)
        return self.prior_gen(mu + (0.5 * logvar).exp() * self.noise(mu, generator))

    def penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """WGAN-GP: (|grad D| - 1)^2 at points between real and fake [B, D + C]."""
        mix = torch.lerp(fake, real, torch.rand(len(real), 1, device=real.device)).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(mix).sum(), mix, create_graph=True)
        return ((grad.norm(dim=1) - 1) ** 2).mean()

    def ae_loss(self, q, a, y):
        """The autoencoder's loss: the answer's NLL from its posterior code, nats per answer."""
        c = self.context(q, y)
        z_q = self.codes(c, self.answer_code(a))
        return self.touched(self.decoder.nll(a, torch.cat([z_q, c], 1), self.cfg.word_dropout).mean())

    def critic_loss(self, c, r):
        """WGAN-GP on contexts c and answer codes r: posterior codes are real, prior codes fake (encoders and
        generators held fixed)."""
        with torch.no_grad():
            real = torch.cat([self.codes(c, r), c], 1)
            fake = torch.cat([self.codes(c), c], 1)
        gap = self.critic(fake).mean() - self.critic(real).mean()
        return self.touched(gap + self.cfg.gp_weight * self.penalty(real, fake))

    def generator_loss(self, c, r):
        """The prior's codes and the posterior's moved to meet each other: the critic's difference, minimised."""
        real = self.critic(torch.cat([self.codes(c, r), c], 1)).mean()
        return self.touched(real - self.critic(torch.cat([self.codes(c), c], 1)).mean())

    def phase(self, method: str, opt, *args) -> torch.Tensor:
        """One phase of a step: the loss `method` computes through the (distributed) family, one step of `opt`."""
        loss = self.through()(method, *args)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    def train_step(self, x, y, opts):
        q, a, y = x[:, 0], x[:, 1], y if self.conditional else None
        recon = self.phase("ae_loss", opts["ae"], q, a, y)
        with torch.no_grad():  # the encoders after the autoencoder's step, fixed for the GAN's two phases
            c, r = self.context(q, y), self.answer_code(a)
        loss_d = self.phase("critic_loss", opts["d"], c, r)
        gap = self.phase("generator_loss", opts["g"], c, r)
        return {"loss": recon, "recon": recon, "loss_d": loss_d, "gap": gap}
