"""Sampling from trained models and exporting their generators."""

from .animate import animate, write_animation
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
    "animate",
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
    "write_animation",
    "write_samples",
]
