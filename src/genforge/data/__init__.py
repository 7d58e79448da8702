"""Data: sources (one file each, registered in base.SOURCES), preprocessing, validation."""

from . import arrays, audio, builtin, idx, images, music, notes, text, unpaired, video  # noqa: F401  (registration, in probe order)
from .base import SOURCES, RawData, register_source
from .dataset import ImageData, load_data, to_float, to_uint8
from .validate import data_report, format_report

__all__ = [
    "SOURCES",
    "RawData",
    "register_source",
    "ImageData",
    "load_data",
    "to_float",
    "to_uint8",
    "data_report",
    "format_report",
]
