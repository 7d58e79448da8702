"""pix2pix: a restoration model trained on the user's own images (Isola et al. 2017; SRGAN's L1 + adversarial).

The trainer hands it clean images; `model.corruption` damages each batch on the fly (a box or random pixels
missing, downscaling, blur or noise: see `modalities/image/corruption.py`) and the model learns to undo it:

    G (U-Net): input [C + 1, H, W] = damaged image + known-pixel mask
        -> conv 3x3 [w, H, W] -> n x (conv 3x3 s2 -> BN -> LeakyReLU)  [w * 2**n, H / 2**n, W / 2**n]
        -> `blocks` residual blocks
        -> n x (ConvT 3x3 s2 -> BN -> ReLU, concat the encoder's map of that size, conv 3x3 -> BN -> ReLU)
        -> conv 3x3 -> tanh [C, H, W]; the known pixels are pasted back over the output.
    D (PatchGAN): [damaged input, image] [2C + 1, H, W] -> n x (conv 3x3 s2 -> LeakyReLU)
        -> conv 3x3 -> one realism logit per patch [1, H / 2**n, W / 2**n]

    L_D = adversarial(D(input, clean), D(input, G(input)));  L_G = adversarial_G + l1_weight * |G(input) - clean|

It samples by restoring damaged held-out images (the `from_data` ability): what it generates is only as
good as what it restores, so the evaluation's figures judge restorations of the test split against it.
"""

from __future__ import annotations

from typing import Literal, Optional

import torch
from pydantic import Field, field_validator
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ...config import StrictModel
from ...errors import ConfigError
from ...losses import GAN_LOSSES
from ...models.abilities import FromData, Paired
from ...models.base import FAMILIES, Family, init_weights, stages
from ...models.vae import ResBlock
from .corruption import Corruption, upscale


class Pix2PixConfig(StrictModel):
    corruption: str = Field(
        "box", description="the damage it learns to undo: box[:f], random[:p], downscale:S, blur[:sigma], noise[:std]"
    )
    width: int = Field(32, ge=4, description="channels of the U-Net's first layer (doubling at each stride-2 stage)")
    max_channels: int = Field(256, ge=8, description="cap on channels per layer")
    blocks: int = Field(2, ge=0, description="residual blocks at the U-Net's bottleneck")
    l1_weight: float = Field(100.0, ge=0, description="weight of the L1 loss to the clean image (pix2pix: 100)")
    adv_weight: float = Field(1.0, ge=0, description="weight of the adversarial loss (0: plain L1 regression)")
    loss: Literal["ns", "hinge"] = Field("ns", description="adversarial loss on the patch logits")
    spectral_norm: bool = Field(False, description="spectral normalisation of every discriminator layer")
    d_lr_ratio: float = Field(1.0, gt=0, description="TTUR: discriminator lr = train.lr * this")

    @field_validator("corruption")
    @classmethod
    def _corruption(cls, v: str) -> str:
        Corruption.parse(v)  # raises with what is expected
        return v


def _chans(i: int, cfg: Pix2PixConfig) -> int:
    return min(cfg.width * 2**i, cfg.max_channels)


def _bn_act(c_in: int, c_out: int, stride: int, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), act)


class Up(nn.Module):
    """Double the side, then merge the encoder's map of that size (the U-Net's skip connection)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.up = nn.Sequential(
            nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
        )
        self.merge = _bn_act(2 * c_out, c_out, 1, nn.ReLU())

    def forward(self, h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.merge(torch.cat([self.up(h), skip], 1))  # [B, c_out, 2h, 2w]


class UNet(nn.Module):
    def __init__(self, cfg: Pix2PixConfig, shape: tuple[int, int, int]):
        super().__init__()
        c, res, _ = shape
        n = max(stages(res)[1], 1)
        self.inp = nn.Sequential(nn.Conv2d(c + 1, cfg.width, 3, 1, 1), nn.LeakyReLU(0.2))
        self.down = nn.ModuleList(_bn_act(_chans(i, cfg), _chans(i + 1, cfg), 2, nn.LeakyReLU(0.2)) for i in range(n))
        self.mid = nn.Sequential(*[ResBlock(_chans(n, cfg)) for _ in range(cfg.blocks)])
        self.up = nn.ModuleList(Up(_chans(i + 1, cfg), _chans(i, cfg)) for i in reversed(range(n)))
        self.out = nn.Conv2d(cfg.width, c, 3, 1, 1)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        damaged, known = inp[:, :-1], inp[:, -1:]  # [B, C, H, W], [B, 1, H, W]
        skips = [self.inp(inp)]  # [B, w, H, W]
        for d in self.down:
            skips.append(d(skips[-1]))  # ... [B, w * 2**n, H / 2**n, W / 2**n]
        h = self.mid(skips.pop())
        for u in self.up:
            h = u(h, skips.pop())
        return known * damaged + (1 - known) * torch.tanh(self.out(h))  # [B, C, H, W]; known pixels kept


class PatchDiscriminator(nn.Module):
    def __init__(self, cfg: Pix2PixConfig, shape: tuple[int, int, int]):
        super().__init__()
        c, res, _ = shape
        n = max(stages(res)[1], 1)
        layers: list[nn.Module] = []
        c_in = 2 * c + 1
        for i in range(n):
            layers += [nn.Conv2d(c_in, _chans(i + 1, cfg), 3, 2, 1), nn.LeakyReLU(0.2)]
            c_in = _chans(i + 1, cfg)
        self.net = nn.Sequential(*layers, nn.Conv2d(c_in, 1, 3, 1, 1))

    def forward(self, inp: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([inp, x], 1))  # [B, 1, H / 2**n, W / 2**n] patch logits


@FAMILIES.register("pix2pix")
class Pix2Pix(FromData, Paired, Family):
    name = "pix2pix"
    Config = Pix2PixConfig
    abilities = frozenset({"paired", "from_data"})
    tiny = ("model.width=8", "model.blocks=1")
    ddp_units = ("G", "D")
    own_inputs = "give it damaged images with `genforge restore RUN --input ...`"
    search_space = {
        "train.lr": {"type": "float", "low": 5e-5, "high": 1e-3, "log": True},
        "model.width": {"type": "categorical", "choices": [16, 32, 64]},
        "model.blocks": {"type": "int", "low": 0, "high": 4},
        "model.l1_weight": {"type": "categorical", "choices": [10.0, 100.0]},
        "model.loss": {"type": "categorical", "choices": ["ns", "hinge"]},
        "model.spectral_norm": {"type": "categorical", "choices": [False, True]},
    }
    presets = {
        # pix2pix's optimiser (Adam 2e-4, beta1 0.5) and L1 weight; a small U-Net for CPUs.
        "default": {"model": {}, "train": {"lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 32}},
        # the same model trained with L1 alone: the regression baseline the adversarial term is measured against
        "l1": {"model": {"adv_weight": 0.0}, "train": {"lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 32}},
    }

    def __init__(self, cfg: Pix2PixConfig, shape, n_classes: int = 0):
        super().__init__(cfg, shape, n_classes)
        self.corruption = Corruption.parse(cfg.corruption)
        try:
            self.corruption.check_size(*self.shape[1:])
        except ValueError as e:
            raise ConfigError(f"model.corruption: {e}") from None
        self.G, self.D = UNet(cfg, self.shape), PatchDiscriminator(cfg, self.shape)
        init_weights(self, "dcgan")
        if cfg.spectral_norm:
            for m in self.D.modules():
                if isinstance(m, nn.Conv2d):
                    spectral_norm(m)
        self.loss = GAN_LOSSES[cfg.loss]

    @property
    def latent_dim(self) -> int:
        return 0  # no latent: its input is a damaged image

    def configure_optimizers(self, t):
        betas = tuple(t.betas)
        return {
            "g": torch.optim.Adam(self.G.parameters(), lr=t.lr, betas=betas),
            "d": torch.optim.Adam(self.D.parameters(), lr=t.lr * self.cfg.d_lr_ratio, betas=betas),
        }

    def damage(self, x: torch.Tensor, gen: Optional[torch.Generator] = None) -> torch.Tensor:
        """Clean images [B, C, H, W] -> the model's input [B, C + 1, H, W] (damaged image, known mask)."""
        return torch.cat(self.corruption(x, gen), 1)

    def train_step(self, x, y, opts):
        c = self.cfg
        inp = self.damage(x)
        fake = self.through("G")(inp)
        losses = {}
        if c.adv_weight:  # (with L1 alone the discriminator is not trained: it would cost time and change nothing)
            D = self.through("D")
            loss_d = self.loss.d(D(inp, x), D(inp, fake.detach()))
            opts["d"].zero_grad(set_to_none=True)
            loss_d.backward()
            opts["d"].step()
            losses["loss_d"] = loss_d.detach()
        l1 = (fake - x).abs().mean()
        loss_g = c.l1_weight * l1
        if c.adv_weight:
            loss_g = loss_g + c.adv_weight * self.loss.g(self.D(inp, fake))
        opts["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        opts["g"].step()
        return losses | {"loss_g": loss_g.detach(), "l1": l1.detach()}

    def pairs(self, n: int, generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs [n, C + 1, H, W], clean [n, C, H, W]): n held-out images drawn with `generator`, damaged."""
        held_out = self.held_out_data()[0]
        idx = torch.randint(len(held_out), (n,), generator=generator)
        clean = held_out[idx]
        return self.damage(clean, generator).to(self.device), clean.to(self.device)

    def held_out_rows(self, n: int, generator: Optional[torch.Generator] = None):
        damaged, clean = self.pairs(n, generator)
        with torch.no_grad():
            restored = self.decode(damaged)
        rows = [("damaged", damaged[:, : self.shape[0]]), ("restored", restored), ("truth", clean)]
        return "Held-out images damaged as in training, restored, and the truth:", rows

    def prior(self, n, generator=None, labels=None):
        """What it generates from: n damaged held-out images (inputs [n, C + 1, H, W])."""
        return self.pairs(n, generator)[0]

    def decode(self, z, y=None, generator=None):
        return self.G(z)

    def restore(self, observed: torch.Tensor, degradation, task: str) -> torch.Tensor:
        """Observations in model form (masked images, low-resolution images, blurred or noisy images), their
        Degradation and task -> restored images [N, C, H, W]; the model must have been trained for that damage."""
        if task != self.corruption.task or degradation.scale != self.corruption.scale:
            scale = f" --scale {self.corruption.scale}" if self.corruption.scale > 1 else ""
            raise ConfigError(
                f"--task {task}: this pix2pix model was trained to undo `{self.cfg.corruption}` "
                f"(--task {self.corruption.task}{scale}); train one with the model.corruption of this task"
            )
        if degradation.scale > 1:
            observed = upscale(observed, degradation.scale)
        known = degradation.known
        if known is None:  # no pixel is known exactly
            known = observed.new_zeros(len(observed), 1, *observed.shape[2:])
        with torch.no_grad():
            return torch.cat([self.G(b) for b in torch.cat([observed, known], 1).split(256)]).cpu()

    def exportable(self):
        return self.G

    def export_example(self):
        c, h, w = self.shape
        return (torch.randn(2, c + 1, h, w).clamp(-1, 1),), ["damaged"], ["images"], [0]
