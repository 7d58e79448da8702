"""Generation from trained models, and export."""

from .export import FORMATS, export
from .sampling import interpolate, manifold, prior_samples, reconstructions, slerp, write_images

__all__ = ["FORMATS", "export", "interpolate", "manifold", "prior_samples", "reconstructions", "slerp", "write_images"]
