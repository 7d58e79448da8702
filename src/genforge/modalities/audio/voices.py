"""Voice data: sources whose clips carry two labels, who speaks (the speaker) and what is said (the class).

    voice-digits      the words zero..nine by Festival's voices (Debian's festvox-* packages, each word at
                      several speeds and pitches) and the human speakers of Asterisk's recorded prompts
                      (asterisk-core-sounds-*-wav: one recording of each digit a speaker and language), labelled
                      by the digit meant (Spanish "siete" is the class seven)
    voice-folder      a folder of <speaker>/<word>/*.wav (every audio file exactly two folders deep)
    voice-table       a CSV with `file`, `speaker` and `text` columns (files relative to the CSV)

A clip's id starts with its speaker (speaker/word/...), which is how the split and `AudioData.train_speakers`
know it. The test split holds speakers training never hears (`data.split_by=speaker`, the default) or unseen
clips of the training speakers (`data.split_by=utterance`). `spoken-digits` is a voice source too: its 120
espeak-ng speakers are accent + variant pairs.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ...data.base import register_source
from ...errors import DataError
from .dsp import read_audio
from .sources import DIGITS, EXTENSIONS, RawAudio, cached_raw_audio, fit_clip, read_files, two_deep

FESTIVAL_VOICES = {  # Festival voice -> (speaker, Debian package, who it is)
    "kal_diphone": ("kal", "festvox-kallpc16k", "American English male, diphone synthesis (Kevin A. Lenzo)"),
    "ked_diphone": ("ked", "festvox-kdlpc16k", "American English male, diphone synthesis"),
    "cmu_us_slt_arctic_hts": ("slt", "festvox-us-slt-hts", "American English female, HTS synthesis (CMU ARCTIC)"),
}
ASTERISK_ROOT = Path("/usr/share/asterisk/sounds")
ASTERISK_SPEAKERS = {  # a recorded prompt folder -> (speaker, Debian package, who it is)
    "en_US_f_Allison": ("allison", "asterisk-core-sounds-en-wav", "American English female (Allison Smith)"),
    "es_MX_f_Allison": ("allison", "asterisk-core-sounds-es-wav", "the same speaker in Mexican Spanish"),
    "fr_CA_f_June": ("june", "asterisk-core-sounds-fr-wav", "Canadian French female (June Wallack)"),
    "it_IT_m_Carlo": ("carlo", "asterisk-core-sounds-it-wav", "Italian male (Carlo)"),
    "ru_RU_f_IvrvoiceRU": ("ivrvoice-ru", "asterisk-core-sounds-ru-wav", "Russian female"),
}
STRETCHES = (0.8, 0.9, 1.0, 1.1, 1.25)  # Festival's Duration_Stretch (diphone voices): slower and faster readings
SPEEDS = (0.94, 1.0, 1.06)  # each reading resampled: pitch and pace within a speaker's range (speed perturbation)


def _voice_raw(name: str, clips, labels, class_names, ids, problems, about, summary) -> RawAudio:
    if not clips:
        detail = f"; the first problem: {problems[0][0]}: {problems[0][1]}" if problems else ""
        raise DataError(f"{name}: no usable clips{detail}")
    return RawAudio(
        name=name,
        clips=np.stack(clips).astype(np.float32),
        labels=np.array(labels, dtype=np.int64),
        class_names=class_names,
        problems=problems,
        ids=ids,
        summary=summary | ({"who": about} if about else {}),
        speakers_in_ids=True,
    )


def _read_all(items: list[tuple[Path, str, str]], cfg):
    """(path, speaker, word) items -> (clips, labels, class names, ids, problems); unreadable files are named
    and skipped (an error with data.strict)."""
    words = sorted({w for _, _, w in items})
    clips, kept, problems, _ = read_files([path for path, _, _ in items], cfg)
    labels = [words.index(items[k][2]) for k in kept]
    ids = [f"{items[k][1]}/{items[k][2]}/{items[k][0].name}" for k in kept]
    return clips, labels, words, ids, problems


# ---------------------------------------------------------------- a user's folder or table


@register_source(
    "voice-folder",
    lambda s: Path(s).is_dir() and two_deep(Path(s)),
    "a folder of <speaker>/<word>/*.wav (every audio file two folders deep): speakers and words",
    modality="audio",
)
def load_voice_folder(spec, cfg) -> RawAudio:
    root = Path(spec)
    files = sorted(f for f in root.rglob("*") if f.suffix.lower() in EXTENSIONS)
    items = [(f, f.relative_to(root).parts[0], f.relative_to(root).parts[1]) for f in files]
    clips, labels, words, ids, problems = _read_all(items, cfg)
    return _voice_raw(root.name, clips, labels, words, ids, problems, {}, {"files": len(files)})


def _is_voice_table(spec: str) -> bool:
    p = Path(spec)
    if p.suffix.lower() != ".csv" or not p.is_file():
        return False
    try:
        with open(p, newline="", encoding="utf-8") as f:
            header = {h.strip().lower() for h in next(csv.reader(f), [])}
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return {"file", "speaker", "text"} <= header


@register_source(
    "voice-table",
    _is_voice_table,
    "a CSV with file, speaker and text columns (files relative to the CSV): speakers and what they say",
    modality="audio",
)
def load_voice_table(spec, cfg) -> RawAudio:
    path = Path(spec)
    items, problems = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            where = f"{path}:{line}"
            missing = [k for k in ("file", "speaker", "text") if not row.get(k)]
            if missing:
                problems.append((where, f"empty {', '.join(missing)}; expected a file, a speaker and a text"))
            elif "/" in row["speaker"]:
                problems.append((where, f"speaker {row['speaker']!r} holds a '/'; expected a name without one"))
            else:
                items.append((path.parent / row["file"], row["speaker"], row["text"].lower()))
    if problems and cfg.strict:
        raise DataError(f"{problems[0][0]}: {problems[0][1]}")
    clips, labels, words, ids, unread = _read_all(items, cfg)
    return _voice_raw(path.stem, clips, labels, words, ids, problems + unread, {}, {"rows": len(items) + len(problems)})


# ---------------------------------------------------------------- Festival voices and Asterisk speakers


def _festival(word: str, voice: str, stretch: float) -> bytes:
    """One word by a Festival voice, `stretch` times as long where the voice honours it: WAV bytes."""
    evals = [f"(voice_{voice})", f"(Parameter.set 'Duration_Stretch {stretch})"]
    with tempfile.TemporaryDirectory() as tmp:
        text, wav = Path(tmp) / "w.txt", Path(tmp) / "w.wav"
        text.write_text(word + "\n")
        cmd = ["text2wave", *[a for e in evals for a in ("-eval", e)], "-o", str(wav), str(text)]
        subprocess.run(cmd, capture_output=True, check=True, timeout=60)
        return wav.read_bytes()


def build_voice_digits(cfg) -> RawAudio:
    """The clips of `voice-digits` from the Festival voices and Asterisk prompt folders installed here."""
    rate, length = cfg.sample_rate, int(round(cfg.seconds * cfg.sample_rate))
    voices = [v for v in FESTIVAL_VOICES if shutil.which("text2wave") and _festival_has(v)]
    prompts = [d for d in ASTERISK_SPEAKERS if (ASTERISK_ROOT / d / "digits" / "0.wav").is_file()]
    if len(voices) + len({ASTERISK_SPEAKERS[d][0] for d in prompts}) < 2:
        packages = [p for _, p, _ in (*FESTIVAL_VOICES.values(), *ASTERISK_SPEAKERS.values())]
        raise DataError(
            "voice-digits needs two or more speakers from Festival voices or Asterisk prompts; found "
            f"{len(voices) + len(prompts)}: apt-get install festival {' '.join(packages)} (`make data` does it)"
        )
    jobs = [(d, v, s) for v in voices for d in range(10) for s in STRETCHES]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        wavs = list(pool.map(lambda j: _festival(DIGITS[j[0]], j[1], j[2]), jobs))
    clips, labels, ids, seen = [], [], [], set()
    for (d, v, s), w in zip(jobs, wavs):
        if w in seen:  # a voice that ignores Duration_Stretch (HTS) reads every stretch alike
            continue
        seen.add(w)
        for f in SPEEDS:  # read at rate / f and played at rate: f times as fast and as high
            clips.append(fit_clip(read_audio(io.BytesIO(w), int(round(rate / f)))[0], rate, length))
            labels.append(d)
            ids.append(f"{FESTIVAL_VOICES[v][0]}/{DIGITS[d]}/d{s}/x{f}")
    items = [(ASTERISK_ROOT / p / "digits" / f"{d}.wav", ASTERISK_SPEAKERS[p][0], DIGITS[d])
             for p in prompts for d in range(10)]  # fmt: skip
    more, more_labels, words, more_ids, problems = _read_all(items, cfg)
    about = {FESTIVAL_VOICES[v][0]: f"{FESTIVAL_VOICES[v][2]} ({FESTIVAL_VOICES[v][1]})" for v in voices}
    for p in prompts:
        speaker, package, who = ASTERISK_SPEAKERS[p]
        about[speaker] = "; ".join(filter(None, [about.get(speaker), f"{who} ({package}, recorded)"]))
    raw = _voice_raw(
        "voice-digits",
        clips + more,
        labels + [DIGITS.index(words[i]) for i in more_labels],
        list(DIGITS),
        ids + more_ids,
        problems,
        about,
        {"synthesiser": "Festival text2wave and Asterisk's recorded prompts"},
    )
    raw.test, raw.test_labels, raw.test_ids = raw.clips[:0], raw.labels[:0], []  # cached whole; split after
    return raw


def _festival_has(voice: str) -> bool:
    return any(Path("/usr/share/festival/voices").glob(f"*/{voice}"))


@register_source(
    "voice-digits",
    lambda s: s == "voice-digits",
    "the words zero..nine by Festival's voices and Asterisk's recorded speakers (built once, cached), "
    "labelled by digit, split by speaker",
    modality="audio",
    licence="Festival voices (free licences, see each festvox package) and Asterisk core sounds (CC-BY-SA-3.0)",
)
def load_voice_digits(spec, cfg) -> RawAudio:
    recipe = {"rate": cfg.sample_rate, "seconds": cfg.seconds, "stretch": STRETCHES, "speed": SPEEDS}
    raw = cached_raw_audio("voice-digits", recipe, lambda: build_voice_digits(cfg))
    raw.test, raw.test_labels, raw.test_ids = None, None, None  # the whole set: split by data.split_by
    return raw
