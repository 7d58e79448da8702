"""Registers the music modality, its sources, families and metrics."""

from . import metrics, modality, music_vae, sources  # noqa: F401
