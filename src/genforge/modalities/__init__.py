"""Modalities, one file each, registered in MODALITIES by name: the core asks them how to
load, convert, write, preview, serve and embed their kind of data."""

from typing import Optional

from ..config import parse_set, validate
from ..data.base import detect_modality
from . import audio, image, music, text, video  # noqa: F401  (registration)
from .base import MODALITIES, Modality, modality_of


def inspect_data(source: str, modality: Optional[str] = None, sets=(), strict: bool = False) -> tuple[dict, str]:
    """`genforge data inspect`: load `source` (with `data.*` --set items) and report on it: (JSON report, text)."""
    mod = MODALITIES.get(modality or detect_modality(source))
    fields = {"source": source, "strict": strict} | parse_set(list(sets)).get("data", {})
    rep = mod.report(mod.load(validate(mod.DataConfig, fields)))
    return rep, mod.format_report(rep)


__all__ = ["MODALITIES", "Modality", "modality_of", "inspect_data"]
