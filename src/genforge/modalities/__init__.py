"""Modalities, one file each, registered in MODALITIES by name: the core asks them how to
load, convert, write, preview, serve and embed their kind of data."""

from . import audio, image, text  # noqa: F401  (registration)
from .base import MODALITIES, Modality, modality_of

__all__ = ["MODALITIES", "Modality", "modality_of"]
