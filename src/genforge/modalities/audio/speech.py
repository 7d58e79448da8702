"""Speech agreement of word-conditioned audio: does a clip asked for as "seven" say "seven" to a recogniser?

The data's classifier (`class_agreement`) is trained on the data itself, so it can be pleased by features a
listener would not hear as the word. This figure asks a recogniser that has never seen the data: CMU
PocketSphinx (its US-English acoustic model ships inside the pip wheel; nothing is downloaded), restricted
by a grammar to the data's class names, so that it picks one of the words or nothing. A labelled sample
counts right when the word it hears is the class asked for. The floor is held-out clips with their own
labels: how often the recogniser gets real clips right (synthetic voices and one-second crops are not easy
for it). The figure runs only when every class name is a word in the recogniser's dictionary
(`spoken-digits`: zero .. nine); other audio data gets no row.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ...evaluate import metrics as M
from ...evaluate.registry import register_metric
from .dsp import resample

RATE = 16_000  # the acoustic model's sample rate
MAX_CLIPS = 500  # per side: about 80 ms a one-second clip on one core


@lru_cache(maxsize=4)
def recogniser(words: tuple[str, ...]):
    """A PocketSphinx decoder whose grammar is one of `words`, or None when a word is not in its dictionary."""
    # deferred: the decoder loads a 30 MB acoustic model; only this figure needs it
    from pocketsphinx import Decoder

    dec = Decoder(samprate=RATE, loglevel="FATAL", lm=None)
    if any(dec.lookup_word(w) is None for w in words):
        return None
    grammar = "#JSGF V1.0;\ngrammar words;\npublic <w> = " + " | ".join(words) + " ;\n"
    dec.add_jsgf_string("words", grammar)
    dec.activate_search("words")
    return dec


def heard(dec, clips: np.ndarray) -> list[str]:
    """The word the recogniser hears in each int16 clip [N, T] at RATE ('' when none)."""
    out = []
    for clip in clips:
        dec.start_utt()
        dec.process_raw(clip.astype(np.int16).tobytes(), full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        out.append(hyp.hypstr.strip() if hyp is not None else "")
    return out


@register_metric(
    "speech_agreement",
    modalities=("audio",),
    needs=("labels",),
    better="higher",
    help="share of labelled samples a speech recogniser (PocketSphinx, limited to the class names) hears as the "
    "word asked for; classes that are English words only",
)
def speech_agreement(ctx, side) -> dict:
    words = tuple(str(n).lower() for n in ctx.data.class_names or [])
    dec = recogniser(words) if len(words) >= 2 else None
    if dec is None:  # classes that are not words it knows: nothing to check
        return {}
    clips = side.stored[:MAX_CLIPS].squeeze(1).numpy().astype(np.float32) / 32767.0  # [n, T]
    clips = np.clip(resample(clips, ctx.data.sample_rate, RATE), -1, 1) * 32767
    said = heard(dec, clips)
    asked = [words[i] for i in side.labels[:MAX_CLIPS].tolist()]
    hit = torch.tensor([s == a for s, a in zip(said, asked)])
    silent = sum(s == "" for s in said) / len(said)
    per_word = {w: round(float(hit[[a == w for a in asked]].double().mean()), 4) for w in words if w in asked}
    extra = {"nothing_heard": round(silent, 4), "per_class": per_word, "n": len(said)}
    return {"speech_agreement": M.share_right(hit) | extra}
