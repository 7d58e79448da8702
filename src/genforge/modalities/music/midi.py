"""Melodies out: MIDI files, WAV renderings (audio/synth.py: FluidSynth with the General MIDI soundfont),
piano rolls."""

from __future__ import annotations

import io

import numpy as np

from ..audio.synth import RENDER_RATE, render_midi
from .musicset import STEPS_PER_BAR, MelodyCodec

ROLL_LOW, ROLL_HIGH = 36, 95  # the pitch band a piano roll shows (C2..B6); notes outside sit on its edges


def joined(melodies: list[np.ndarray], codec: MelodyCodec) -> np.ndarray:
    """Melodies one after another with a bar of rest between: notes of one long line [n, 3]."""
    stride = codec.steps + STEPS_PER_BAR
    parts = [m + np.array([i * stride, i * stride, 0], np.int32) for i, m in enumerate(melodies)]
    return np.concatenate(parts) if parts else np.zeros((0, 3), np.int32)


def midi_bytes(notes: np.ndarray, codec: MelodyCodec) -> bytes:
    """The bytes of a standard MIDI file playing `notes` at the codec's tempo and program."""
    buf = io.BytesIO()
    codec.to_midi(notes).write(buf)
    return buf.getvalue()


def render(notes: np.ndarray, codec: MelodyCodec, rate: int = RENDER_RATE) -> np.ndarray:
    """Notes -> float32 mono audio at the codec's tempo and General MIDI program (see `render_midi`)."""
    return render_midi(codec.to_midi(notes), rate)


def piano_roll(notes: np.ndarray, steps: int, px: int = 3) -> np.ndarray:
    """One melody -> uint8 RGB [120, steps * px, 3]: pitch up (2 px a semitone), time right, bar lines grey,
    onsets darker."""
    h = ROLL_HIGH - ROLL_LOW + 1
    img = np.full((h, steps * px, 3), 255, np.uint8)
    img[:, :: STEPS_PER_BAR * px] = 200  # bar lines
    img[[ROLL_HIGH - c for c in (48, 60, 72, 84)]] = np.minimum(
        img[[ROLL_HIGH - c for c in (48, 60, 72, 84)]], 235
    )  # Cs
    for s, e, p in notes:
        row = ROLL_HIGH - int(np.clip(p, ROLL_LOW, ROLL_HIGH))
        img[row, s * px : e * px] = (60, 110, 200)
        img[row, s * px] = (20, 40, 110)
    return img.repeat(2, axis=0)
