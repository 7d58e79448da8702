"""Model families, one file each, registered in FAMILIES by name."""

from . import dcgan, restorer, spectrogram, text2image, text_lm, text_vae, vae, wavegan  # noqa: F401  (registration)
from .base import FAMILIES, Family, stages

__all__ = ["FAMILIES", "Family", "stages"]
