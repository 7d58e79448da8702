"""The text screen of the sampling guard: generated text that an offensive-language classifier flags, or that
holds an entry of a block list, is held back. `python -m genforge.modalities.text.screen fortunes fortunes-zh`
prints the screen's real-data floor: the share of held-out real texts it flags.

English: alt-profanity-check's linear classifier (trained on labelled offensive tweets and comments), flagged at
a probability of PROFANITY_AT (the library's own `predict` cut). It reads English only: Chinese and other
languages are covered by the block list alone, whose entries in unspaced scripts match anywhere in a text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Optional

from ...errors import ConfigError
from .. import MODALITIES
from .textset import decode, load_text

PROFANITY_AT = 0.5
DEFAULT_BLOCK_LIST = Path(__file__).with_name("blocklist.txt")


@lru_cache(maxsize=8)
def block_entries(path: Path) -> tuple[str, ...]:
    """A block list file's entries (one a line; blank lines and # comments skipped), lower-cased."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--block-list {path}: not a readable UTF-8 text file ({e})") from None
    return tuple(e.strip().lower() for e in lines if e.strip() and not e.lstrip().startswith("#"))


def _pattern(entries: tuple[str, ...]) -> re.Pattern:
    """Words of a spaced script match whole (\\b); entries with any non-ASCII letter match anywhere."""
    parts = [re.escape(e) if not e.isascii() else rf"\b{re.escape(e)}\b" for e in entries]
    return re.compile("|".join(parts) or r"(?!)", re.IGNORECASE)


def screen_texts(texts: list[str], block_list: Optional[Path] = None) -> list[str]:
    """Why each text is held back ("" where it passes): "block list: ENTRY" or "offensive (classifier p=...)"."""
    from profanity_check import predict_prob  # deferred: scikit-learn's model loads in seconds

    entries = block_entries(DEFAULT_BLOCK_LIST) + (block_entries(Path(block_list)) if block_list else ())
    pattern = _pattern(entries)
    probs = predict_prob(list(texts)) if texts else []
    reasons = []
    for text, p in zip(texts, probs):
        hit = pattern.search(text)
        if hit:
            reasons.append(f"block list: {hit.group(0).lower()}")
        else:
            reasons.append("offensive (classifier)" if p >= PROFANITY_AT else "")
    return reasons


def floor_row(source: str) -> str:
    """A Markdown row: how many held-out real texts of a data set the screen flags (its real-data floor)."""
    data = load_text(MODALITIES.get("text").DataConfig(source=source))
    texts = decode(data.codec, data.tensor("test"))
    reasons = screen_texts(texts)
    by_classifier = sum(r.startswith("offensive") for r in reasons)
    by_list = sum(r.startswith("block list") for r in reasons)
    return f"| {source} | {len(texts):,} | {by_classifier} ({by_classifier / len(texts):.1%}) | {by_list} |"


if __name__ == "__main__":
    import sys

    print("| data | held-out texts | flagged by the classifier | by the block list |\n|---|---|---|---|")
    for name in sys.argv[1:] or ["fortunes", "fortunes-zh"]:
        print(floor_row(name), flush=True)
