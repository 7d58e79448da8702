"""The interface every model family implements, and the family registry.

A family is an nn.Module holding all its networks. The trainer only calls
`configure_optimizers` and `train_step`; sampling and export only call
`prior` and `decode`. Images outside a family are always float in [-1, 1].
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import nn

from ..config import StrictModel
from ..registry import Registry

FAMILIES: Registry[type["Family"]] = Registry("model family")


def stages(resolution: int) -> tuple[int, int]:
    """(base, n): halve while even and >= 8, so base * 2**n == resolution, base in 4..7 or odd.

    28 -> (7, 2) is the article's 7x7 start with two stride-2 layers;
    32 -> (4, 3), 64 -> (4, 4), 128 -> (4, 5), 8 -> (4, 1).
    """
    base, n = resolution, 0
    while base % 2 == 0 and base >= 8:
        base, n = base // 2, n + 1
    return base, n


def init_weights(module: nn.Module, scheme: str) -> None:
    """'torch' keeps PyTorch's defaults; 'glorot' is Keras' default (the article's code);
    'dcgan' is N(0, 0.02) as in Radford et al."""
    if scheme == "torch":
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if scheme == "glorot":
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) and scheme == "dcgan":
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Family(nn.Module):
    name: ClassVar[str]
    Config: ClassVar[type[StrictModel]]
    # preset name -> {"model": {...}, "train": {...}} overrides of the defaults
    presets: ClassVar[dict[str, dict]]
    default_preset: ClassVar[str] = "default"

    def __init__(self, cfg, shape: tuple[int, int, int], n_classes: int = 0):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes

    @property
    def latent_dim(self) -> int:
        raise NotImplementedError

    def configure_optimizers(self, train_cfg) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def train_step(self, x: torch.Tensor, y: Optional[torch.Tensor], opts: dict) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch x [B, C, H, W] in [-1, 1]; returns detached losses."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [N, latent_dim] -> images [N, C, H, W] in [-1, 1]."""
        raise NotImplementedError

    def exportable(self) -> nn.Module:
        """A module holding only the generator/decoder, mapping latents to images in [-1, 1]."""
        raise NotImplementedError

    def prior(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n latents from the prior N(0, I), on the model's device."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        return z.to(self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def sample(self, n: int, seed: Optional[int] = 0, batch_size: int = 512) -> torch.Tensor:
        """n images [n, C, H, W] in [-1, 1]; the same seed gives the same images."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = self.prior(n, gen)
        was_training = self.training
        self.eval()
        out = torch.cat([self.decode(chunk) for chunk in z.split(batch_size)])
        self.train(was_training)
        return out
