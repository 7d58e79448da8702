"""CycleGAN: translation between two unpaired image domains (Zhu et al. 2017).

It trains on images of two domains labelled 0 (A) and 1 (B) (`unpaired.py`: CycleGAN's folder layout,
`data.target`, or a built-in pair of classes); each batch is split by domain.

    G_AB, G_BA (ResNet generators): [C, H, W] -> reflect-pad, conv 7x7 -> IN -> ReLU [w, H, W]
        -> n x (conv 3x3 s2 -> IN -> ReLU) [w * 2**n, H / 2**n, W / 2**n] -> `blocks` residual blocks
        -> n x (ConvT 3x3 s2 -> IN -> ReLU) -> reflect-pad, conv 7x7 -> tanh [C, H, W]
        (n = 2 as in the paper, fewer when the image is too small to halve twice)
    D_A, D_B (PatchGAN): [C, H, W] -> conv 4x4 s2 -> LeakyReLU -> (k - 1) x (conv 4x4 s2 -> IN -> LeakyReLU)
        -> conv 4x4 s1 -> IN -> LeakyReLU -> conv 4x4 s1 -> realism scores per patch [1, h, w]
        (k = 3 stride-2 layers as in the paper's 70x70 PatchGAN, fewer on small images)

    L_G = LS(D_B(G_AB(a)), 1) + LS(D_A(G_BA(b)), 1) + cycle * (|G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|)
          + identity * cycle * (|G_AB(b) - b| + |G_BA(a) - a|)
    L_D_B = (LS(D_B(b), 1) + LS(D_B(pool_B(G_AB(a))), 0)) / 2, and likewise D_A, with LS(s, t) = mean (s - t)^2
    (least squares on patch scores); each discriminator sees a history of 50 generated images (the pool).

It generates by translating held-out images (the `from_data` ability): a sample of class d is a held-out
image of the other domain translated into domain d, so `--class B` translates A images to B.
"""

from __future__ import annotations

from typing import Optional

import torch
from pydantic import Field, field_validator
from torch import nn

from ...config import StrictModel
from ...errors import ConfigError
from ...models.abilities import FromData, Translates
from ...models.base import FAMILIES, Family, init_weights, stages
from .translation_metrics import translation_figures


class CycleGANConfig(StrictModel):
    conditional: bool = Field(True, description="always on: the labels are the two domains")
    width: int = Field(32, ge=4, description="channels of the generators' first layer (the paper: 64)")
    blocks: int = Field(6, ge=0, description="residual blocks of each generator (the paper: 9 at 256 px, 6 at 128)")
    d_width: int = Field(64, ge=4, description="channels of the discriminators' first layer (the paper: 64)")
    d_layers: Optional[int] = Field(
        None, ge=1, description="stride-2 layers of each discriminator; None: 3 (70x70 patches), fewer on small images"
    )
    cycle_weight: float = Field(10.0, ge=0, description="weight of the cycle-consistency L1 loss (lambda, paper: 10)")
    identity_weight: float = Field(
        0.5, ge=0, description="weight of the identity loss, times cycle_weight (paper: 0.5; 0 turns it off)"
    )
    pool_size: int = Field(50, ge=0, description="generated images each discriminator keeps and reuses (0: none)")

    @field_validator("conditional")
    @classmethod
    def _always(cls, v: bool) -> bool:
        if not v:
            raise ValueError("cyclegan always uses its two domains as labels; leave model.conditional at true")
        return v


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)  # [B, c, h, w]


class ResnetGenerator(nn.Module):
    def __init__(self, cfg: CycleGANConfig, shape: tuple[int, int, int]):
        super().__init__()
        c, res, _ = shape
        n, w = min(2, stages(res)[1]), cfg.width
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(c, w, 7), nn.InstanceNorm2d(w), nn.ReLU()]
        for i in range(n):  # [B, w * 2**i, ...] -> [B, w * 2**(i+1), side / 2]
            layers += [nn.Conv2d(w * 2**i, w * 2 ** (i + 1), 3, 2, 1), nn.InstanceNorm2d(w * 2 ** (i + 1)), nn.ReLU()]
        layers += [ResBlock(w * 2**n) for _ in range(cfg.blocks)]
        for i in reversed(range(n)):  # back up to [B, w, H, W]
            layers += [
                nn.ConvTranspose2d(w * 2 ** (i + 1), w * 2**i, 3, 2, 1, output_padding=1),
                nn.InstanceNorm2d(w * 2**i),
                nn.ReLU(),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, c, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # [B, C, H, W] in [-1, 1]


class PatchDiscriminator(nn.Module):
    def __init__(self, cfg: CycleGANConfig, shape: tuple[int, int, int]):
        super().__init__()
        c, res, _ = shape
        k = cfg.d_layers or max(1, min(3, stages(res)[1]))
        w = [min(cfg.d_width * 2**i, cfg.d_width * 8) for i in range(k + 1)]
        layers: list[nn.Module] = [nn.Conv2d(c, w[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, k):
            layers += [nn.Conv2d(w[i - 1], w[i], 4, 2, 1), nn.InstanceNorm2d(w[i]), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(w[k - 1], w[k], 4, 1, 1), nn.InstanceNorm2d(w[k]), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Conv2d(w[k], 1, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # [B, 1, h, w] realism scores, one per patch


class ImagePool(nn.Module):
    """The last `size` generated images a discriminator trains on (Shrivastava et al. 2017): each new image
    is returned as it is, or (half the time, once full) swapped for a stored one. Kept in buffers, so a
    resumed run continues with the same history."""

    def __init__(self, size: int, shape: tuple[int, int, int]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.size:
            return x
        out = x.clone()
        for i in range(len(x)):
            n = int(self.count)
            if n < self.size:
                self.images[n] = x[i]
                self.count += 1
            elif torch.rand(()) < 0.5:
                j = int(torch.randint(self.size, ()))
                out[i] = self.images[j].clone()
                self.images[j] = x[i]
        return out  # [B, C, H, W]


class Translator(nn.Module):
    """What is exported: both generators; (images [N, C, H, W], target domain y [N]) -> translations."""

    def __init__(self, G_AB: nn.Module, G_BA: nn.Module):
        super().__init__()
        self.G_AB, self.G_BA = G_AB, G_BA

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where((y == 1)[:, None, None, None], self.G_AB(x), self.G_BA(x))  # [N, C, H, W]


def _l1(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (x - target).abs().mean() if len(x) else x.new_zeros(())


def _ls(scores: torch.Tensor, target: float) -> torch.Tensor:
    """The least-squares GAN loss (Mao et al. 2017) of patch scores against `target` (1: real, 0: fake); for no
    scores 0, still in the graph (under DistributedDataParallel every process must give every weight a gradient)."""
    return (scores - target).pow(2).mean() if scores.numel() else scores.sum()


@FAMILIES.register("cyclegan")
class CycleGAN(FromData, Translates, Family):
    name = "cyclegan"
    Config = CycleGANConfig
    abilities = frozenset({"translate", "from_data"})
    tiny = ("model.width=8", "model.blocks=1", "model.d_width=8", "model.pool_size=8")
    ddp_units = ("G_AB", "G_BA", "D_A", "D_B")
    optimizer = "g"
    own_inputs = "give it images to translate with `genforge translate RUN --input ...`"
    search_space = {
        "train.lr": {"type": "float", "low": 5e-5, "high": 1e-3, "log": True},
        "model.width": {"type": "categorical", "choices": [16, 32, 64]},
        "model.blocks": {"type": "int", "low": 1, "high": 9},
        "model.cycle_weight": {"type": "categorical", "choices": [5.0, 10.0, 20.0]},
        "model.identity_weight": {"type": "categorical", "choices": [0.0, 0.5]},
    }
    presets = {
        # the paper's networks and schedule: one A and one B image a step, Adam 2e-4 (beta1 0.5), the lr constant
        # for the first half and decayed linearly to 0 over the second
        "paper": {
            "model": {"width": 64, "blocks": 9, "d_width": 64},
            "train": {"lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 2, "balance": True, "lr_decay": "linear"},
        },
        # measured on CPUs (docs/style.md): smaller networks, batches of 4 A and 4 B images
        "default": {
            "model": {"width": 16, "blocks": 4, "d_width": 32},
            "train": {"lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 8, "balance": True, "lr_decay": "linear"},
        },
    }

    def __init__(self, cfg: CycleGANConfig, shape, n_classes: int = 0):
        if n_classes != 2:
            raise ConfigError(
                f"cyclegan translates between two domains; this data set has {n_classes or 'no'} classes. Expected "
                "a folder with trainA/ and trainB/ (testA/, testB/ optional), a source with "
                "--set data.target=OTHER_SOURCE, a two-class data set or a built-in pair (sneakers2boots, ...)"
            )
        super().__init__(cfg, shape, n_classes)
        self.G_AB, self.G_BA = ResnetGenerator(cfg, self.shape), ResnetGenerator(cfg, self.shape)
        self.D_A, self.D_B = PatchDiscriminator(cfg, self.shape), PatchDiscriminator(cfg, self.shape)
        self.pool_A, self.pool_B = ImagePool(cfg.pool_size, self.shape), ImagePool(cfg.pool_size, self.shape)
        init_weights(self, "dcgan")  # N(0, 0.02), as the paper's code

    @property
    def latent_dim(self) -> int:
        return 0  # no latent: its input is an image of the other domain

    def configure_optimizers(self, t):
        betas = tuple(t.betas)
        gs = [*self.G_AB.parameters(), *self.G_BA.parameters()]
        ds = [*self.D_A.parameters(), *self.D_B.parameters()]
        return {"g": torch.optim.Adam(gs, lr=t.lr, betas=betas), "d": torch.optim.Adam(ds, lr=t.lr, betas=betas)}

    def train_step(self, x, y, opts):
        c = self.cfg
        a, b = x[y == 0], x[y == 1]  # [Na, C, H, W], [Nb, C, H, W]: the batch's images of each domain
        na, nb = len(a), len(b)  # a small batch of unequal domains may miss one: its terms are skipped
        ab = self.through("G_AB")(torch.cat([a, b]))  # [Na + Nb]: A translated to B, then B's identity
        ba = self.through("G_BA")(torch.cat([b, a]))  # [Nb + Na]: B translated to A, then A's identity
        fake_b, idt_b, fake_a, idt_a = ab[:na], ab[na:], ba[:nb], ba[nb:]
        zero = x.new_zeros(())
        for d in (self.D_A, self.D_B):  # the generators' step needs no discriminator gradients
            d.requires_grad_(False)
        adv = (_ls(self.D_B(fake_b), 1) if na else zero) + (_ls(self.D_A(fake_a), 1) if nb else zero)
        cycle = (_l1(self.G_BA(fake_b), a) if na else zero) + (_l1(self.G_AB(fake_a), b) if nb else zero)
        identity = _l1(idt_b, b) + _l1(idt_a, a)
        loss_g = adv + c.cycle_weight * (cycle + c.identity_weight * identity)
        opts["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        opts["g"].step()
        for d in (self.D_A, self.D_B):
            d.requires_grad_(True)
        loss_d = zero
        for real, fake, pool, name in ((b, fake_b, self.pool_B, "D_B"), (a, fake_a, self.pool_A, "D_A")):
            # real images and generated ones from the pool in one call ([Nr + Nf] >= 1: the batch has images)
            scores = self.through(name)(torch.cat([real, pool(fake.detach())]))  # [Nr + Nf, 1, h, w]
            loss_d = loss_d + 0.5 * (_ls(scores[: len(real)], 1) + _ls(scores[len(real) :], 0))
        opts["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        opts["d"].step()
        return {
            "loss_g": loss_g.detach(),
            "loss_d": loss_d.detach(),
            "cycle": cycle.detach(),
            "identity": identity.detach(),
        }

    def prior(self, n, generator=None, labels=None):
        """What it generates from: for each target domain in `labels` [n], a held-out image of the other
        domain drawn with `generator` (model form [n, C, H, W])."""
        x, domain = self.held_out_data()
        labels = self.labels(n, generator) if labels is None else labels.cpu()
        out = torch.empty(n, *self.shape)
        for d in (0, 1):
            where, pool = labels == d, x[domain != d]
            out[where] = pool[torch.randint(len(pool), (int(where.sum()),), generator=generator)]
        return out.to(self.device)

    def own_figures(self, data, extractor, names: list[str], seed: int = 0) -> dict:
        """The translation figures per direction, beside their floors and baselines (translation_metrics.py)."""
        return translation_figures(self, data, extractor, names, seed=seed)

    def translate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Images [N, C, H, W] in model form and their target domains y [N] -> translations [N, C, H, W]."""
        out = torch.empty_like(x)
        for d, G in ((1, self.G_AB), (0, self.G_BA)):
            where = y == d
            if where.any():
                out[where] = G(x[where])
        return out

    def decode(self, z, y=None, generator=None):
        self._need_labels(y)
        return self.translate(z, y)

    def held_out_rows(self, n: int, generator: Optional[torch.Generator] = None):
        x, domain = self.held_out_data()
        rows = []
        with torch.no_grad():
            for d, (src, tgt) in enumerate(("AB", "BA")):
                pool = x[domain == d]
                inp = pool[torch.randint(len(pool), (n,), generator=generator)].to(self.device)
                out = self.translate(inp, torch.full((n,), 1 - d, device=self.device))
                back = self.translate(out, torch.full((n,), d, device=self.device))
                rows += [(src, inp), (f"{src}→{tgt}", out), (f"{src}→{tgt}→{src}", back)]
        return "Held-out images of each domain, translated, and translated back (the cycle):", rows

    def exportable(self):
        return Translator(self.G_AB, self.G_BA)

    def export_example(self):
        return (torch.rand(2, *self.shape) * 2 - 1, torch.tensor([1, 0])), ["images", "y"], ["translated"], [0, 0]
