"""Registers the audio modality, its sources, families and metrics."""

from . import metrics, modality, notes, pitch, sources, spectrogram, speech, wavegan  # noqa: F401
