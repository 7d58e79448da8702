"""Registers the audio modality, its sources, families and metrics."""

from . import ddsp, harmonicity, metrics, modality, notes, pitch, sources, spectrogram, speech, wavegan  # noqa: F401
