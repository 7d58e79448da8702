"""Registers the video modality, its sources, families and metrics."""

from . import image_motion, metrics, modality, sources, video_vae, videogan  # noqa: F401
