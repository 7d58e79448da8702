"""Model families that serve several modalities (dcgan, vae), registered in FAMILIES by name; the families
of one modality alone live in its folder (`modalities/<name>/`)."""

from . import dcgan, vae  # noqa: F401  (registration)
from .base import FAMILIES, Family, stages

__all__ = ["FAMILIES", "Family", "stages"]
