"""Pitch accuracy of pitch-conditioned audio: does a note asked for as C4 sound as C4?

For audio data whose classes are pitch names (`instrument-notes`: C3, C#3, ...), each labelled sample's
fundamental is tracked by YIN (dsp.pitch_hz, on its loudest frame) and counted right when it is within half
a semitone of the pitch asked for; octave errors (12 semitones off) are counted apart. The floor is held-out
notes with their own labels: the tracker's agreement with the pitches really played. The data's classifier's
view of the same question is `class_agreement`.
"""

from __future__ import annotations

import numpy as np

from ...evaluate.registry import register_metric
from .dsp import hz_to_midi, pitch_hz
from .notes import note_pitch


@register_metric(
    "pitch_accuracy",
    modalities=("audio",),
    needs=("labels",),
    better="higher",
    help="share of labelled samples a YIN pitch tracker hears at the pitch asked for (classes named C4, ...)",
)
def pitch_accuracy(ctx, side) -> dict:
    pitches = [note_pitch(str(n)) for n in ctx.data.class_names or []]
    if not pitches or None in pitches:  # classes that are not pitches: nothing to check
        return {}
    clips = side.stored.squeeze(1).numpy().astype(np.float32) / 32767.0
    off = hz_to_midi(pitch_hz(clips, ctx.data.sample_rate)) - np.array(pitches)[side.labels.cpu().numpy()]
    off = np.nan_to_num(off, nan=99.0)  # a silent sample has no pitch: wrong
    right = np.abs(off) < 0.5
    return {
        "pitch_accuracy": {
            "value": float(right.mean()),
            "octave_errors": float((np.abs(np.abs(off) - 12) < 0.5).mean()),
            "median_semitones_off": round(float(np.median(np.abs(off))), 3),
        }
    }
