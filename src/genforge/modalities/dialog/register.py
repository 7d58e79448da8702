"""Registers the dialog modality, its sources, families and metrics (the text figures that serve answers too)."""

from ..text import metrics as text_metrics  # noqa: F401
from . import dialog_cvae, dialog_gan, metrics, modality, sources  # noqa: F401
