"""Registers the text modality, its sources, families and metrics."""

from . import metrics, modality, sources, text_lm, text_vae  # noqa: F401
