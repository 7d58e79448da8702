"""Model families, one file each, registered in FAMILIES by name."""

from . import (  # noqa: F401  (registration)
    cyclegan,
    dcgan,
    music_vae,
    restorer,
    spectrogram,
    text2image,
    text_lm,
    text_vae,
    vae,
    video_vae,
    videogan,
    wavegan,
)
from .base import FAMILIES, Family, stages

__all__ = ["FAMILIES", "Family", "stages"]
