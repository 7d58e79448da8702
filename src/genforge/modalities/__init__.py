"""Modalities, one folder each (`modalities/<name>/`): the core asks them how to load, convert, write,
preview, serve and embed their kind of data.

This package is light: importing it reads no modality's code, so the CLI can list names from the manifests
(`manifest.py`). MODALITIES, Modality and modality_of are loaded when first used.
"""

from .manifest import Manifest, MissingExtra, load, load_available, manifests, owner, provide

_HEAVY = {"MODALITIES": "base", "Modality": "base", "modality_of": "base"}


def __getattr__(name: str):
    if name not in _HEAVY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # deferred: the registry and the contract import torch; the manifests above do not
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_HEAVY[name]}"), name)


__all__ = [
    "MODALITIES",
    "Manifest",
    "MissingExtra",
    "Modality",
    "load",
    "load_available",
    "manifests",
    "modality_of",
    "owner",
    "provide",
]
