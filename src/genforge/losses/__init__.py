"""Losses as pure functions of network outputs."""

from .gan import GAN_LOSSES
from .vae import elbo

__all__ = ["GAN_LOSSES", "elbo"]
