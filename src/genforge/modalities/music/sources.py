"""Symbolic music sources: melodies from music21's bundled corpus (Bach chorales, Essen folk songs) and from
folders of MIDI, MusicXML and ABC files.

Every source returns RawMusic: monophonic melodies on a 16th-note grid, each with its bar length (from the
time signature) and the step of its first full bar, labelled, and the problems met on the way.

Reduction to a melody, the stated rule: each part (MusicXML, ABC) or non-drum instrument (MIDI) is one
melody; where notes overlap in it (chords, several voices), the highest pitch sounding at an onset wins and a
note ends where the next one starts (the top voice). Ties are merged, grace notes dropped, onsets and ends
rounded to the nearest 16th. A file that cannot be parsed, has no notes or no time signature is named with the
reason and skipped (`data.strict=true`: an error).

Parsing music21's corpus is slow (about 0.05 s a folk song, 0.2 s a chorale): parsed melodies are cached by
recipe under GENFORGE_CACHE/music, and files are parsed in worker processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ...data.base import register_source, subfolder_classes
from ...errors import DataError
from ...io import atomic_write

STEPS_PER_QUARTER = 4  # a 16th-note grid
FILE_SUFFIXES = {".mid", ".midi", ".xml", ".musicxml", ".mxl", ".abc"}
VOICES = ("soprano", "alto", "tenor", "bass")
POOL_MIN = 200  # parse jobs a worker process must have to pay for itself (each imports music21: about 2 s)
CACHE_VERSION = 3  # bump when the reduction rule changes: cached melodies are rebuilt


def _cache() -> Path:
    return Path(os.environ.get("GENFORGE_CACHE", Path.home() / ".cache" / "genforge")) / "music"


@dataclass
class Melody:
    """One monophonic line: notes int32 [n, 3] (start step, end step, MIDI pitch), sorted, not overlapping."""

    notes: np.ndarray
    bar_steps: int  # 16ths a bar, from the time signature
    first_bar: int  # step of the first full bar line (after a pickup)
    label: Optional[str]
    piece: str  # the file (and tune) it came from: voices of one piece stay on one side of the split


@dataclass
class RawMusic:
    name: str
    melodies: list[Melody]
    class_names: Optional[list[str]] = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def top_voice(onsets: np.ndarray, ends: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """Notes (any overlap) -> a monophonic line int32 [n, 3]: at each onset step the highest pitch starting
    there; a note lasts to its own end or the next onset, whichever comes first."""
    if len(onsets) == 0:
        return np.zeros((0, 3), np.int32)
    order = np.lexsort((-pitches, onsets))  # by onset, highest pitch first
    onsets, ends, pitches = onsets[order], ends[order], pitches[order]
    first = np.r_[True, onsets[1:] != onsets[:-1]]
    onsets, ends, pitches = onsets[first], ends[first], pitches[first]
    nxt = np.r_[onsets[1:], np.iinfo(np.int32).max]
    ends = np.minimum(np.maximum(ends, onsets + 1), nxt)
    return np.stack([onsets, ends, pitches], 1).astype(np.int32)


def _grid(quarters: float) -> int:
    return int(round(quarters * STEPS_PER_QUARTER))


def music21_melodies(score, piece: str, labels: Optional[list[str]] = None, voices: bool = False) -> list[Melody]:
    """Each part of a music21 score as a melody (labels: one name a part, or None). With `voices`, the parts
    named by `labels` (Soprano, Alto, ...; instrument doublings left out), or exactly that many parts in
    order. Raises ValueError with the reason when the score has no such parts, no time signature or no notes."""
    # deferred: music21 takes about 1.5 s to import; only parsing scores needs it
    from music21 import meter

    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    if ts is None:
        raise ValueError("no time signature")
    bar_steps = max(1, _grid(ts.barDuration.quarterLength))
    parts = list(score.parts) or [score]
    if voices:
        named = {str(p.partName).lower(): p for p in parts}
        parts = [named[v] for v in labels] if all(v in named for v in labels) else parts
        if len(parts) != len(labels):
            raise ValueError(f"{len(parts)} parts and no parts named {', '.join(labels)}")
    out = []
    for i, part in enumerate(parts):
        onsets, ends, pitches = [], [], []
        for n in part.stripTies().flatten().notes:
            if n.duration.isGrace or n.duration.quarterLength == 0:
                continue
            top = max(p.midi for p in n.pitches)
            onsets.append(_grid(n.offset)), ends.append(_grid(n.offset + n.duration.quarterLength)), pitches.append(top)
        notes = top_voice(np.array(onsets, np.int64), np.array(ends, np.int64), np.array(pitches, np.int64))
        if len(notes) == 0:
            continue
        measures = part.getElementsByClass("Measure")
        pickup = next((m for m in measures if m.duration.quarterLength >= ts.barDuration.quarterLength), None)
        first_bar = _grid(pickup.offset) if pickup is not None else 0
        out.append(Melody(notes, bar_steps, first_bar, labels[i] if labels else None, piece))
    if not out:
        raise ValueError("no notes")
    return out


def midi_melodies(source, label: Optional[str]) -> list[Melody]:
    """Each non-drum instrument of a MIDI file (a path or a file object) as a melody, times mapped to 16ths
    through the file's tempo map (its ticks per quarter)."""
    # deferred: only reading MIDI files needs pretty_midi
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(source) if isinstance(source, Path) else source)
    except Exception as e:  # mido and pretty_midi raise many kinds (OSError, ValueError, KeySignatureError, ...)
        raise ValueError(f"not a readable MIDI file ({type(e).__name__}: {e})") from None
    if not pm.time_signature_changes:
        raise ValueError("no time signature")
    ts = pm.time_signature_changes[0]
    bar_steps = max(1, _grid(4 * ts.numerator / ts.denominator))
    step = lambda t: np.array([round(pm.time_to_tick(x) / pm.resolution * STEPS_PER_QUARTER) for x in t])  # noqa: E731
    out = []
    for inst in pm.instruments:
        if inst.is_drum or not inst.notes:
            continue
        notes = top_voice(
            step([n.start for n in inst.notes]),
            step([n.end for n in inst.notes]),
            np.array([n.pitch for n in inst.notes]),
        )
        out.append(Melody(notes, bar_steps, _grid(pm.time_to_tick(ts.time) / pm.resolution), label, str(source)))
    if not out:
        raise ValueError("no notes outside drum tracks")
    return out


def abc_tunes(text: str) -> list[str]:
    """An ABC file's tunes (each starts at an `X:` line), the file header kept in front of each."""
    parts = re.split(r"\n(?=X:)", "\n" + text)
    head, tunes = parts[0].strip(), [p.strip() for p in parts[1:]]
    return [f"{head}\n{t}" if head else t for t in tunes] or [text]


def _parse_item(item: tuple[str, str, Optional[str], Optional[list[str]]]) -> tuple[str, object]:
    """One parse job (a worker process): (piece, melodies as plain tuples, or the reason it failed)."""
    kind, where, label, part_labels = item
    if kind == "abc-tune":
        where, text = where.split("\0", 1)
    try:
        if kind == "midi":
            mels = midi_melodies(Path(where), label)
        else:
            # deferred: music21 takes about 1.5 s to import; only parsing scores needs it
            from music21 import converter

            score = converter.parse(text, format="abc") if kind == "abc-tune" else converter.parse(where)
            n = max(1, len(score.parts))
            mels = music21_melodies(score, where, part_labels or [label] * n, voices=part_labels is not None)
    except Exception as e:  # a parser's failure on one file must not end the run; the reason is reported
        return where, f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e)
    return where, [(m.notes, m.bar_steps, m.first_bar, m.label, m.piece) for m in mels]


def parse_all(items: list, name: str, recipe: dict, cfg, class_names: Optional[list[str]], summary: dict) -> RawMusic:
    """The melodies of parse jobs (cached by `recipe`; in worker processes for big jobs); a failed job becomes
    a named problem, or an error with `data.strict`."""
    problems: list = []
    key = hashlib.sha256(json.dumps([recipe, CACHE_VERSION], sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = _cache() / f"{key}.json"
    if path.is_file():
        results = json.loads(path.read_text())
    else:
        workers = min(len(items) // POOL_MIN, os.cpu_count() or 1)
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_parse_item, items, chunksize=16))
        else:
            results = [_parse_item(i) for i in items]
        results = [(w, r if isinstance(r, str) else [(n.tolist(), *rest) for n, *rest in r]) for w, r in results]
        atomic_write(path, json.dumps(results).encode())
    melodies = []
    for where, res in results:
        if isinstance(res, str):
            if cfg.strict:
                raise DataError(f"{where}: {res}")
            problems.append((where, res))
        else:
            melodies += [Melody(np.array(n, np.int32).reshape(-1, 3), *rest) for n, *rest in res]
    if not melodies:
        raise DataError(
            f"{recipe['source']}: no melody could be read ({len(problems)} file(s) skipped, the first "
            f"{problems[0][0] if problems else '-'}: {problems[0][1] if problems else 'no files'})"
        )
    return RawMusic(name, melodies, class_names, problems, summary)


@register_source(
    "bach-chorales",
    lambda s: s == "bach-chorales",
    "J. S. Bach's chorales from music21's corpus, each voice a melody labelled soprano/alto/tenor/bass",
    modality="music",
    licence="public domain (J. S. Bach), from music21's corpus (BSD-3-Clause)",
)
def load_bach(spec, cfg) -> RawMusic:
    # deferred: music21 takes about 1.5 s to import; only the corpus sources need it
    from music21 import corpus

    paths = sorted(str(p) for p in corpus.getComposer("bach") if str(p).endswith((".mxl", ".xml", ".krn")))
    items = [("score", p, None, list(VOICES)) for p in paths]
    recipe = {"source": spec, "files": [Path(p).name for p in paths]}
    return parse_all(items, spec, recipe, cfg, list(VOICES), {"files": len(paths)})


@register_source(
    "folk-songs",
    lambda s: s == "folk-songs",
    "the Essen folk songs from music21's corpus (`data.collections`, e.g. han1 han2 altdeu10), labelled by collection",
    modality="music",
    licence="the Essen Folksong Collection, from music21's corpus (BSD-3-Clause); see its corpus notes",
)
def load_folk(spec, cfg) -> RawMusic:
    # deferred: music21 takes about 1.5 s to import; only the corpus sources need it
    from music21 import corpus

    found = {Path(str(p)).stem: Path(str(p)) for p in corpus.getPaths() if "essenFolksong" in str(p)}
    missing = [c for c in cfg.collections if c not in found]
    if missing:
        raise DataError(
            f"data.collections: {', '.join(missing)} not in the Essen corpus; expected: {', '.join(sorted(found))}"
        )
    items = [
        ("abc-tune", f"{found[c]}#{i + 1}\0{t}", c, None)
        for c in cfg.collections
        for i, t in enumerate(abc_tunes(found[c].read_text(encoding="latin-1")))
    ]
    recipe = {"source": spec, "collections": list(cfg.collections)}
    return parse_all(items, spec, recipe, cfg, list(cfg.collections), {"tunes": len(items)})


def _music_files(spec: str) -> list[Path]:
    return sorted(p for p in Path(spec).rglob("*") if p.suffix.lower() in FILE_SUFFIXES and p.is_file())


@register_source(
    "music-folder",
    lambda s: Path(s).is_dir() and bool(_music_files(s)),
    "a folder of MIDI / MusicXML / ABC files, first-level subfolders as labels",
    modality="music",
)
def load_music_folder(spec, cfg) -> RawMusic:
    files = _music_files(spec)
    rel = [f.relative_to(spec) for f in files]
    classes = subfolder_classes(rel)
    items = []
    for f, r in zip(files, rel):
        label = r.parts[0] if classes else None
        if f.suffix.lower() in (".mid", ".midi"):
            items.append(("midi", str(f), label, None))
        elif f.suffix.lower() == ".abc":
            try:
                tunes = abc_tunes(f.read_text(encoding="utf-8", errors="replace"))
            except OSError as e:
                raise DataError(f"{f}: cannot read ({e.strerror or e})") from None
            items += [("abc-tune", f"{f}#{i + 1}\0{t}", label, None) for i, t in enumerate(tunes)]
        else:
            items.append(("score", str(f), label, None))
    stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    recipe = {"source": str(Path(spec).resolve()), "files": stats}
    return parse_all(items, Path(spec).name, recipe, cfg, classes, {"files": len(files)})
