"""`genforge data inspect`: a data set's report, by whichever modality reads it."""

from typing import Optional

from ..config import parse_set, validate
from ..modalities.base import MODALITIES
from .base import detect_modality


def inspect_data(source: str, modality: Optional[str] = None, sets=(), strict: bool = False) -> tuple[dict, str]:
    """Load `source` (with `data.*` --set items) and report on it: (JSON report, text)."""
    mod = MODALITIES.get(modality or detect_modality(source))
    fields = {"source": source, "strict": strict} | parse_set(list(sets)).get("data", {})
    rep = mod.report(mod.load(validate(mod.DataConfig, fields)))
    return rep, mod.format_report(rep)
