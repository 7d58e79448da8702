"""Data: what every source returns, the source registry and the shared split, fingerprint and report
helpers. Each modality's sources live in its folder (`modalities/<name>/`)."""

from .base import SOURCES, RawData, register_source

__all__ = ["SOURCES", "RawData", "register_source"]
