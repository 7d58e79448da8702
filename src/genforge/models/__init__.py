"""Model families, one file each, registered in FAMILIES by name."""

from . import dcgan, text_lm, text_vae, vae  # noqa: F401  (registration)
from .base import FAMILIES, Family, stages

__all__ = ["FAMILIES", "Family", "stages"]
