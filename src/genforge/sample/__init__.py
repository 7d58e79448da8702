"""Generation from trained models, and export."""

from .export import FORMATS, export
from .sampling import class_index, interpolate, manifold, prior_samples, reconstructions, slerp, traverse, write_images

__all__ = ["FORMATS", "class_index", "export", "interpolate", "manifold", "prior_samples", "reconstructions", "slerp", "traverse", "write_images"]
