"""Generated music folders for the fuzz campaign: MIDI files and ABC tunes of odd lengths, pitches, rhythms
and meters, maybe damaged, misnamed or beside hostile entries, loaded the way `genforge data inspect` does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from ...fuzz.cases import Case
from ...fuzz.data_cases import data_case, file_folder
from .midi import midi_bytes
from .musicset import MelodyCodec

ABC_NOTES = "CDEFGABcdefgab"


def music_bytes(data) -> tuple[bytes, str, str]:
    """One file: a MIDI melody (pretty_midi) of drawn length and pitch range, or ABC tunes, maybe without a
    meter or with no notes."""
    n = data.draw(st.sampled_from([48, 3, 0, 128]))
    rng = np.random.default_rng(n + data.draw(st.integers(0, 3)))
    if data.draw(st.booleans()):
        low = data.draw(st.sampled_from([60, 0, 100]))
        gap = data.draw(st.sampled_from([0, 4, 40]))  # rests between notes: none, short, over two bars
        lengths = rng.integers(1, 9, n)
        starts = np.cumsum(np.r_[0, lengths[:-1] + rng.integers(0, gap + 1, max(n - 1, 0))]) if n else lengths
        notes = np.stack([starts, starts + lengths, rng.integers(low, low + 28, n)], 1)
        return midi_bytes(notes.astype(np.int32), MelodyCodec(bars=16)), ".mid", f"midi {n} notes from {low}"
    meter = data.draw(st.sampled_from(["M:4/4\n", "M:3/4\n", "M:6/8\n", ""]))
    tunes = data.draw(st.integers(1, 3))
    body = "".join(
        f"X:{t + 1}\nT:t{t}\n{meter}L:1/8\nK:C\n" + "".join(rng.choice(list(ABC_NOTES), n)) + "|\n\n"
        for t in range(tunes)
    )
    return body.encode(), ".abc", f"abc {tunes} tune(s) of {n} notes {meter.strip() or 'no meter'}"


def music_folder(data, tmp: Path) -> Case:
    root = tmp / "melodies"
    whats = file_folder(data, root, music_bytes, (2, 6), [".xml", ".mid", ".abc"])
    sets = [f"data.bars={data.draw(st.sampled_from([1, 2, 4]))}", f"data.hop={data.draw(st.sampled_from([1, 2]))}"]
    return data_case(data, root, "music", sets, f"music folder [{'; '.join(whats)}] {sets}")


TARGETS = {"music-folder": music_folder}  # found by genforge.fuzz
