"""Registers the shapes modality, its sources, families and metrics."""

from . import modality, pointcloud, sources, voxel_gan, voxel_vae  # noqa: F401
