"""Registers the audio modality, its sources, families and metrics."""

from . import (  # noqa: F401
    ddsp,
    harmonicity,
    metrics,
    modality,
    notes,
    pitch,
    sources,
    spectrogram,
    speech,
    voice_metrics,
    voice_vae,
    voices,
    wavegan,
)
