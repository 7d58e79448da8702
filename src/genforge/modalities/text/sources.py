"""Text sources: Debian's fortunes (English and Chinese), .txt files and folders, CSV and JSONL.

Every source returns RawText: cleaned samples with labels, and the problems met
on the way. Cleaning is shared: terminal escape sequences and other control
characters are removed (and counted), whitespace runs (newlines included)
become one space, empty samples are dropped (and counted). A line that is not
valid UTF-8 is named with its file and line number and skipped, or raised with
`data.strict=true`.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ...data.base import register_source
from ...errors import DataError

FORTUNES_DIR = Path(os.environ.get("GENFORGE_FORTUNES", "/usr/share/games/fortunes"))
ZH_FILES = ("chinese", "tang300", "song100")
# CSI / OSC escape sequences (colours in the Chinese fortunes), then any other C0/C1 control but tab and newline
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SPACES = re.compile(r"\s+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")  # letters, with apostrophes inside (don't, O'Brien)
LETTERS = re.compile(r"[^\W\d_]+")


def is_cjk(texts: list[str]) -> bool:
    """True when most characters are Chinese or Japanese: units are characters, not words."""
    joined = "".join(texts[:500])
    return bool(joined) and len(CJK.findall(joined)) > 0.3 * len(joined.replace(" ", ""))


def units(text: str, cjk: bool) -> list[str]:
    """The units text is counted in: characters for Chinese or Japanese, lower-cased words otherwise."""
    return [c for c in text if not c.isspace()] if cjk else text.lower().split()


def words(text: str, cjk: bool) -> list[str]:
    """The lexical units of a text: lower-cased letter words, or adjacent character pairs for CJK text."""
    if cjk:  # pairs inside runs of letters: punctuation ends a run
        return [run[i : i + 2] for run in LETTERS.findall(text) for i in range(len(run) - 1)]
    return [w.lower() for w in WORD.findall(text)]


def lexicon(texts: list[str], cjk: bool) -> set[str]:
    """Every word (or character pair) of the training texts."""
    return {w for t in texts for w in words(t, cjk)}


@dataclass
class RawText:
    """A source's samples before tokenization: cleaned strings, labels, problems met."""

    name: str
    texts: list[str]
    labels: Optional[list[int]] = None
    class_names: Optional[list[str]] = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    cleaned: Counter = field(default_factory=Counter)  # escape sequences, control characters, empty samples
    summary: dict = field(default_factory=dict)


def clean(text: str, counts: Counter) -> str:
    """Remove escape sequences and control characters (counted in `counts`); collapse whitespace."""
    text, n = ESCAPES.subn("", text)
    counts["escape_sequences"] += n
    text, n = CONTROLS.subn("", text)
    counts["control_characters"] += n
    return SPACES.sub(" ", text).strip()


def read_lines(path: Path, problems: list, strict: bool) -> list[str]:
    """The lines of a text file; a line that is not UTF-8 is skipped and named (or raised when strict)."""
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    lines = []
    for i, raw in enumerate(blob.split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            msg = f"line {i} is not valid UTF-8 ({e.reason} at byte {e.start})"
            if strict:
                raise DataError(
                    f"{path}: {msg}; fix the file or drop --set data.strict=true to skip such lines"
                ) from None
            problems.append((f"{path}:{i}", msg))
    return lines


def split_samples(lines: list[str], separator: Optional[str]) -> list[str]:
    """One sample per line, or the lines between lines that hold only `separator`."""
    if separator is None:
        return lines
    out, cur = [], []
    for line in lines:
        if line.strip() == separator:
            out.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    out.append("\n".join(cur))
    return out


def _add(raw: RawText, samples: list[str], label: Optional[int]) -> None:
    for s in samples:
        s = clean(s, raw.cleaned)
        if not s:
            raw.cleaned["empty_samples"] += 1
            continue
        raw.texts.append(s)
        if label is not None:
            raw.labels.append(label)


def from_files(name: str, files: dict[str, list[Path]], separator: Optional[str], strict: bool) -> RawText:
    """Samples of labelled groups of files ({label: files}); one group named '' means unlabelled."""
    labelled = list(files) != [""]
    raw = RawText(name=name, texts=[], labels=[] if labelled else None, class_names=sorted(files) if labelled else None)
    for label in sorted(files):
        for path in files[label]:
            lines = read_lines(path, raw.problems, strict)
            _add(raw, split_samples(lines, separator), raw.class_names.index(label) if labelled else None)
    raw.summary = {"files": sum(len(v) for v in files.values())}
    if not raw.texts:
        paths = [str(p) for group in files.values() for p in group]
        where = paths[0] + (f" and {len(paths) - 1} more file(s)" if len(paths) > 1 else "") if paths else "no files"
        raise DataError(f"{name}: no text samples found in {where} (every sample was empty or unreadable)")
    return raw


def _fortune_files(zh: bool) -> dict[str, list[Path]]:
    if not FORTUNES_DIR.is_dir():
        pkg = "fortunes-zh" if zh else "fortunes"
        raise DataError(
            f"the fortunes are not installed: {FORTUNES_DIR} does not exist. Install them with "
            f"`apt-get install -y {pkg}`, or pass your own text with --data FILE.txt (or set GENFORGE_FORTUNES)"
        )
    names = [p.name for p in FORTUNES_DIR.iterdir() if p.is_file() and "." not in p.name]
    names = [n for n in names if (n in ZH_FILES) == zh]
    if not names:
        pkg = "fortunes-zh" if zh else "fortunes"
        raise DataError(
            f"{FORTUNES_DIR} holds no {'Chinese' if zh else 'English'} fortune files; apt-get install -y {pkg}"
        )
    return {n: [FORTUNES_DIR / n] for n in sorted(names)}


@register_source(
    "fortunes",
    lambda s: s == "fortunes",
    f"Debian's English fortunes in {FORTUNES_DIR}, the category as label",
    modality="text",
    licence="BSD-style and public-domain texts (Debian's fortunes; /usr/share/doc/fortunes/copyright)",
)
def load_fortunes(spec, cfg) -> RawText:
    return from_files("fortunes", _fortune_files(zh=False), "%", cfg.strict)


@register_source(
    "fortunes-zh",
    lambda s: s == "fortunes-zh",
    f"Debian's Chinese fortunes ({', '.join(ZH_FILES)} in {FORTUNES_DIR}), the file as label",
    modality="text",
    licence="GPL-3.0-or-later (Debian's fortunes-zh)",
)
def load_fortunes_zh(spec, cfg) -> RawText:
    return from_files("fortunes-zh", _fortune_files(zh=True), "%", cfg.strict)


def _is_txt(spec: str) -> bool:
    return spec.lower().endswith(".txt") and Path(spec).is_file()


@register_source(
    "text-file", _is_txt, "a .txt file: one sample per line, or entries between `data.separator` lines", modality="text"
)
def load_text_file(spec, cfg) -> RawText:
    path = Path(spec)
    return from_files(path.stem, {"": [path]}, cfg.separator, cfg.strict)


def _is_txt_folder(spec: str) -> bool:
    p = Path(spec)
    return p.is_dir() and any(f.suffix.lower() == ".txt" for f in p.rglob("*"))


@register_source(
    "text-folder", _is_txt_folder, "a folder of .txt files, first-level subfolders as labels", modality="text"
)
def load_text_folder(spec, cfg) -> RawText:
    root = Path(spec)
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() == ".txt")
    rel = [f.relative_to(root) for f in files]
    labelled = all(len(r.parts) >= 2 for r in rel)
    groups: dict[str, list[Path]] = {}
    for f, r in zip(files, rel):
        groups.setdefault(r.parts[0] if labelled else "", []).append(f)
    return from_files(root.name, groups, cfg.separator, cfg.strict)


def _is_table(spec: str) -> bool:
    return spec.lower().endswith((".csv", ".jsonl")) and Path(spec).is_file()


def table_rows(path: Path, problems: list, strict: bool) -> list[tuple[int, dict]]:
    """(line number, row) of a CSV file's rows or a JSONL file's objects; a line that is not a JSON object is
    named in `problems` and skipped, or raised with `strict`."""
    lines = read_lines(path, problems, strict)
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(lines)
        try:
            return [(reader.line_num, row) for row in reader]
        except csv.Error as e:  # a carriage return inside an unquoted field, a NUL byte
            raise DataError(f"{path}:{reader.line_num}: not a CSV row Python's csv module reads ({e})") from None
    rows = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            why = None if isinstance(obj, dict) else f"expected a JSON object, got {type(obj).__name__}"
        except json.JSONDecodeError as e:
            why = f"not a JSON object ({e.msg})"
        if why is None:
            rows.append((i, obj))
        elif strict:
            raise DataError(f"{path}:{i}: {why}; fix the line or drop --set data.strict=true to skip such lines")
        else:
            problems.append((f"{path}:{i}", why))
    return rows


@register_source(
    "text-table", _is_table, "a .csv or .jsonl file: `data.text_column` (and `data.label_column`)", modality="text"
)
def load_text_table(spec, cfg) -> RawText:
    path = Path(spec)
    raw = RawText(name=path.stem, texts=[])
    rows = table_rows(path, raw.problems, cfg.strict)
    if rows and cfg.text_column not in rows[0][1]:
        raise DataError(
            f"{path}: no column '{cfg.text_column}' (found {', '.join(map(str, rows[0][1]))}); "
            "set --set data.text_column=NAME"
        )
    if cfg.label_column and rows and cfg.label_column not in rows[0][1]:
        raise DataError(f"{path}: no label column '{cfg.label_column}' (found {', '.join(map(str, rows[0][1]))})")
    groups: dict[str, list[str]] = {}
    for i, row in rows:
        text = row.get(cfg.text_column)
        if not isinstance(text, str):
            raw.problems.append((f"{path}:{i}", f"'{cfg.text_column}' is {type(text).__name__}, expected text"))
            continue
        groups.setdefault(str(row.get(cfg.label_column)) if cfg.label_column else "", []).append(text)
    labelled = cfg.label_column is not None
    raw.class_names = sorted(groups) if labelled else None
    raw.labels = [] if labelled else None
    for label in sorted(groups):
        _add(raw, groups[label], raw.class_names.index(label) if labelled else None)
    raw.summary = {"rows": len(rows)}
    if not raw.texts:
        raise DataError(f"{path}: no text samples found in column '{cfg.text_column}'")
    return raw
