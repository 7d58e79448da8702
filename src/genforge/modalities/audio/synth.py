"""MIDI played as audio: FluidSynth with the General MIDI soundfont (the instrument-notes set and the music
modality's renderings both use it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ...errors import RunError
from .dsp import read_audio

SOUNDFONT = Path(os.environ.get("GENFORGE_SOUNDFONT", "/usr/share/sounds/sf2/FluidR3_GM.sf2"))
RENDER_RATE = 16000


def render_midi(pm, rate: int = RENDER_RATE) -> np.ndarray:
    """A pretty_midi.PrettyMIDI -> float32 mono audio, synthesised by the `fluidsynth` program with the
    General MIDI soundfont (Debian: apt-get install fluidsynth fluid-soundfont-gm; GENFORGE_SOUNDFONT points
    at another .sf2). One process a call: render many notes as one file and cut it."""
    exe = shutil.which("fluidsynth")
    if exe is None or not SOUNDFONT.is_file():
        raise RunError(
            f"rendering MIDI as audio needs the fluidsynth program and a soundfont at {SOUNDFONT}: "
            "apt-get install fluidsynth fluid-soundfont-gm (make does), or set GENFORGE_SOUNDFONT"
        )
    with tempfile.TemporaryDirectory(prefix="genforge-render-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        pm.write(str(mid))
        cmd = [exe, "-ni", "-q", "-g", "0.8", "-r", str(rate), "-F", str(wav), str(SOUNDFONT), str(mid)]
        done = subprocess.run(cmd, capture_output=True, timeout=600)
        if done.returncode or not wav.is_file():
            raise RunError(f"fluidsynth failed ({done.returncode}): {done.stderr.decode(errors='replace')[-300:]}")
        return read_audio(wav, rate)[0]
