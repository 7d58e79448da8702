"""Sampling from trained models and exporting their generators."""

from .export import FORMATS, export
from .sampling import (
    class_index,
    held_out,
    interpolate,
    interpolate_inputs,
    manifold,
    prior_samples,
    reconstructions,
    slerp,
    to_samples,
    traverse,
    write_samples,
)

__all__ = [
    "FORMATS",
    "class_index",
    "export",
    "held_out",
    "interpolate",
    "interpolate_inputs",
    "manifold",
    "prior_samples",
    "reconstructions",
    "slerp",
    "to_samples",
    "traverse",
    "write_samples",
]
