"""Dialog sources: question-answer pairs from the ChatterBot conversations (English, Chinese), a folder of
ChatterBot-style YAML, or a CSV/JSONL table with question and answer columns.

Every source returns RawPairs: cleaned pairs with their category, the conversation each came from (the test
split holds whole conversations) and where it was read (file and line or conversation, for messages). A YAML
conversation of turns t0, t1, t2 gives the pairs (t0, t1) and (t1, t2): each turn answers the one before, as
ChatterBot reads them. A pair with an empty side, or a turn that is not text, is named and skipped
(`data.strict`: an error).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ...data.base import register_source
from ...errors import DataError
from ..text.sources import clean, table_rows

YAML_SUFFIXES = (".yml", ".yaml")


@dataclass
class RawPairs:
    """A source's pairs before tokenization, with the problems met."""

    name: str
    questions: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # one a pair ("" when the source has none)
    conversations: list[int] = field(default_factory=list)  # the conversation a pair was cut from
    where: list[str] = field(default_factory=list)  # file:line or file:conversation, for messages
    problems: list[tuple[str, str]] = field(default_factory=list)
    cleaned: Counter = field(default_factory=Counter)
    summary: dict = field(default_factory=dict)
    strict: bool = False

    def skip(self, where: str, reason: str) -> None:
        """Name an input that is skipped, or raise with `data.strict`."""
        if self.strict:
            raise DataError(f"{where}: {reason}; fix it or drop --set data.strict=true to skip such rows")
        self.problems.append((where, reason))

    def add(self, question, answer, category: str, conversation: int, where: str) -> None:
        """One pair, cleaned as the text sources clean theirs; an empty side or a side that is not text is
        skipped and named."""
        for side, value in (("question", question), ("answer", answer)):
            if not isinstance(value, str):
                got = "missing" if value is None else f"{type(value).__name__}, expected text"
                self.skip(where, f"the {side} is {got}")
                return
        q, a = clean(question, self.cleaned), clean(answer, self.cleaned)
        if not q or not a:
            self.cleaned["empty_sides"] += 1
            self.skip(where, f"the {'question' if not q else 'answer'} is empty")
            return
        self.questions.append(q)
        self.answers.append(a)
        self.categories.append(category)
        self.conversations.append(conversation)
        self.where.append(where)

    @property
    def class_names(self) -> Optional[list[str]]:
        return self.labelled()[1]

    def labelled(self) -> tuple[Optional[list[int]], Optional[list[str]]]:
        """(label index a pair, class names), or (None, None) when no pair has a category."""
        names = sorted(set(self.categories))
        if names == [""] or not names:
            return None, None
        return [names.index(c) for c in self.categories], names


def read_yaml(path: Path, raw: RawPairs) -> None:
    """The pairs of one ChatterBot YAML file: `categories` (the first names the pairs; the file's name when
    absent) and `conversations`, a list of lists of turns."""
    # deferred: PyYAML is the dialog extra's, and only YAML sources need it
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raw.skip(str(path), f"not a YAML file this reader can read ({str(e).splitlines()[0]})")
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("conversations"), list):
        raw.skip(str(path), "expected a YAML mapping with a 'conversations' list (ChatterBot's layout)")
        return
    cats = doc.get("categories")
    category = str(cats[0]) if isinstance(cats, list) and cats else path.stem
    for i, turns in enumerate(doc["conversations"], 1):
        where = f"{path}:conversation {i}"
        if not isinstance(turns, list) or len(turns) < 2:
            raw.skip(where, "a conversation must be a list of at least two turns")
            continue
        conv = raw.summary.setdefault("conversations", 0)
        raw.summary["conversations"] = conv + 1
        for q, a in zip(turns, turns[1:]):
            raw.add(q, a, category, conv, where)


def from_yaml_files(name: str, files: list[Path], strict: bool) -> RawPairs:
    raw = RawPairs(name=name, strict=strict)
    for path in files:
        read_yaml(path, raw)
    raw.summary["files"] = len(files)
    if not raw.questions:
        raise DataError(f"{name}: no question-answer pairs found in {len(files)} YAML file(s)")
    return raw


def corpus_dir(language: str) -> Path:
    """The ChatterBot corpus's folder of one language (pip install chatterbot-corpus)."""
    try:
        # deferred: the corpus is the dialog extra's data package
        import chatterbot_corpus
    except ImportError:
        raise DataError(
            "the ChatterBot conversations are not installed: pip install chatterbot-corpus "
            "(or pip install 'genforge[dialog]'), or pass your own pairs with --data FILE.csv"
        ) from None
    folder = Path(chatterbot_corpus.__file__).parent / "data" / language
    if not folder.is_dir():
        raise DataError(f"{folder} is missing: the chatterbot-corpus package holds no {language} conversations")
    return folder


CORPUS_LICENCE = "BSD-3-Clause (the ChatterBot corpus, gunthercox/chatterbot-corpus)"


@register_source(
    "conversations",
    lambda s: s == "conversations",
    "the ChatterBot corpus's English conversations (pip chatterbot-corpus), the category as label",
    modality="dialog",
    licence=CORPUS_LICENCE,
)
def load_conversations(spec, cfg) -> RawPairs:
    return from_yaml_files("conversations", sorted(corpus_dir("english").glob("*.yml")), cfg.strict)


@register_source(
    "conversations-zh",
    lambda s: s == "conversations-zh",
    "the ChatterBot corpus's Chinese conversations (pip chatterbot-corpus), the category as label",
    modality="dialog",
    licence=CORPUS_LICENCE,
)
def load_conversations_zh(spec, cfg) -> RawPairs:
    return from_yaml_files("conversations-zh", sorted(corpus_dir("chinese").glob("*.yml")), cfg.strict)


def _is_yaml_folder(spec: str) -> bool:
    p = Path(spec)
    return p.is_dir() and any(f.suffix.lower() in YAML_SUFFIXES for f in p.rglob("*"))


@register_source(
    "dialog-yaml-folder", _is_yaml_folder, "a folder of ChatterBot-style .yml conversations", modality="dialog"
)
def load_yaml_folder(spec, cfg) -> RawPairs:
    root = Path(spec)
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in YAML_SUFFIXES)
    return from_yaml_files(root.name, files, cfg.strict)


def _header(path: Path) -> list[str]:
    """The column names of a CSV's first line or a JSONL's first object (empty when unreadable)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        return []
    if path.suffix.lower() == ".csv":
        return next(csv.reader([first]), [])
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return []
    return list(obj) if isinstance(obj, dict) else []


def _is_pair_table(spec: str) -> bool:
    path = Path(spec)
    if not (spec.lower().endswith((".csv", ".jsonl")) and path.is_file()):
        return False
    return {"question", "answer"} <= {c.strip().lower() for c in _header(path)}


@register_source(
    "dialog-table",
    _is_pair_table,
    "a .csv or .jsonl with `question` and `answer` columns (and an optional `category`)",
    modality="dialog",
)
def load_pair_table(spec, cfg) -> RawPairs:
    path = Path(spec)
    raw = RawPairs(name=path.stem, strict=cfg.strict)
    rows = [(line, {str(k).strip().lower(): v for k, v in row.items() if k}) for line, row in
            table_rows(path, raw.problems, raw.strict)]  # fmt: skip
    for conversation, (line, row) in enumerate(rows):
        category = row.get("category")
        raw.add(row.get("question"), row.get("answer"), "" if category is None else str(category), conversation,
                f"{path}:{line}")  # fmt: skip
    raw.summary["rows"] = len(raw.where)
    if not raw.questions:
        raise DataError(f"{path}: no question-answer pairs found (every row was empty or unreadable)")
    return raw
