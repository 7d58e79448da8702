"""`instrument-notes`: an NSynth-like set of single notes rendered offline with FluidSynth from Debian's
General MIDI soundfont (`apt-get install fluidsynth fluid-soundfont-gm`; `make` does it).

Every instrument of INSTRUMENTS plays every MIDI pitch of `data.pitches` (a range, default 48..84, C3..C6) at
each of VELOCITIES, held for `data.seconds` (1 s) and cut there (the release is not kept), at
`data.sample_rate`. Labelled by pitch (class names C3, C#3, ...: the pitch-conditioned setting of GANSynth);
the instrument and velocity are in each clip's id. The split holds out whole (instrument, pitch)
combinations, seeded (`data.test_fraction`, `data.split_seed`): every pitch and every instrument is heard in
training, but not every pairing, so held-out clips are combinations never heard. One FluidSynth run renders
them all (a note every 2 s), cached by recipe.
"""

from __future__ import annotations

import numpy as np

from ...data.base import register_source
from ...errors import DataError
from .sources import RawAudio, cached_raw_audio, fit_length
from .synth import render_midi

# General MIDI programs (0-based): keyboards, mallets, organ, plucked and bowed strings, brass, reed, pipe, synth
INSTRUMENTS = {
    "piano": 0,
    "electric-piano": 4,
    "vibraphone": 11,
    "organ": 19,
    "guitar": 24,
    "bass": 33,
    "violin": 40,
    "trumpet": 56,
    "clarinet": 71,
    "flute": 73,
    "synth-lead": 80,
}
VELOCITIES = (50, 80, 110)
NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
SPACING = 2.0  # seconds from one note's start to the next in the rendering: the longest release dies out


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific pitch name (60 -> C4)."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def note_pitch(name: str) -> int | None:
    """Scientific pitch name -> MIDI pitch (C4 -> 60), None for a name that is not one."""
    for k in sorted(range(12), key=lambda i: -len(NAMES[i])):  # C# before C
        if name.startswith(NAMES[k]) and name[len(NAMES[k]) :].lstrip("-").isdigit():
            return 12 * (int(name[len(NAMES[k]) :]) + 1) + k
    return None


def render_notes(pitches: list[int], rate: int, seconds: float, test_fraction: float, seed: int) -> RawAudio:
    """Every (instrument, pitch, velocity) note as a clip; held-out (instrument, pitch) pairs as the test split."""
    # deferred: only rendering the set (once, then cached) needs pretty_midi and FluidSynth
    import pretty_midi

    jobs = [(inst, p, v) for inst in INSTRUMENTS for p in pitches for v in VELOCITIES]
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    tracks = {name: pretty_midi.Instrument(program=prog, name=name) for name, prog in INSTRUMENTS.items()}
    for i, (inst, p, v) in enumerate(jobs):
        tracks[inst].notes.append(pretty_midi.Note(v, p, i * SPACING, i * SPACING + seconds))
    pm.instruments = list(tracks.values())
    audio = render_midi(pm, rate)
    length = int(round(seconds * rate))
    clips = np.stack([fit_length(audio[int(round(i * SPACING * rate)) :], length) for i in range(len(jobs))])
    silent = np.sqrt((clips**2).mean(1)) < 1e-4
    if silent.any():
        first = jobs[int(np.argmax(silent))]
        raise DataError(f"instrument-notes: {int(silent.sum())} note(s) rendered silent, the first {first}")
    pairs = sorted({(inst, p) for inst, p, _ in jobs})
    rng = np.random.default_rng(seed)
    held = {pairs[i] for i in rng.permutation(len(pairs))[: max(1, int(round(len(pairs) * test_fraction)))]}
    is_test = np.array([(inst, p) in held for inst, p, _ in jobs])
    labels = np.array([p - pitches[0] for _, p, _ in jobs], dtype=np.int64)
    ids = [f"{inst}/{note_name(p)}/v{v}" for inst, p, v in jobs]
    peak = np.abs(clips).max()
    clips = (clips / max(peak, 1e-9) * 0.9).astype(np.float32)  # one gain for all: loudness differences stay
    return RawAudio(
        name="instrument-notes",
        clips=clips[~is_test],
        labels=labels[~is_test],
        class_names=[note_name(p) for p in pitches],
        test=clips[is_test],
        test_labels=labels[is_test],
        own_split="by instrument-pitch pair (held-out pairs are never heard in training)",
        summary={"instruments": list(INSTRUMENTS), "velocities": list(VELOCITIES), "held_out_pairs": len(held)},
        ids=[n for n, t in zip(ids, is_test) if not t],
        test_ids=[n for n, t in zip(ids, is_test) if t],
    )


@register_source(
    "instrument-notes",
    lambda s: s == "instrument-notes",
    "single notes of 11 General MIDI instruments x pitches (data.pitches) x 3 velocities, rendered by FluidSynth "
    "(built once, cached), labelled by pitch, held-out instrument-pitch pairs",
    modality="audio",
    licence="made offline by genforge with FluidSynth and the FluidR3_GM soundfont (MIT)",
)
def load_instrument_notes(spec, cfg) -> RawAudio:
    lo, hi = cfg.pitches
    if not 21 <= lo < hi <= 108:
        raise DataError(f"data.pitches=[{lo}, {hi}]: expected two MIDI pitches 21 <= lo < hi <= 108")
    pitches = list(range(lo, hi + 1))
    recipe = {"pitches": [lo, hi], "rate": cfg.sample_rate, "seconds": cfg.seconds, "test": cfg.test_fraction}
    recipe |= {"seed": cfg.split_seed, "instruments": INSTRUMENTS, "velocities": VELOCITIES}
    return cached_raw_audio(
        spec,
        recipe,
        lambda: render_notes(pitches, cfg.sample_rate, cfg.seconds, cfg.test_fraction, cfg.split_seed),
    )
