"""Voices a user picks, keeps, borrows from a recording or invents (families with the `voice` ability: voice-vae).

genforge sample RUN --class seven --voice new -n 8         eight new voices saying "seven"
genforge sample RUN --voice NAME -n 4                      a training speaker's voice
genforge sample RUN --voice-from me.wav -n 4               the voice of a few seconds of a recording
genforge sample RUN --mode interpolate --voice A --voice B a path from one voice to the other
genforge convert RUN --input clip.wav --voice NAME         the same words in another voice
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..errors import ConfigError, DataError
from ..modalities import modality_of
from ..models.base import Family
from ..safety.guard import GuardReport, guarded
from .sampling import need, to_samples, write_samples

NEW = "new"


Blob = tuple[str, bytes]  # an audio file's name (for errors) and bytes


def file_blobs(paths: Sequence[Path], what: str) -> list[Blob]:
    """(name, bytes) of files given with option `what`; a file that cannot be read is named."""
    try:
        return [(str(p), Path(p).read_bytes()) for p in paths]
    except OSError as e:
        raise DataError(f"{what} {e.filename}: cannot be read ({e.strerror})") from None


def read_clips(model: Family, blobs: Sequence[Blob], what: str) -> torch.Tensor:
    """Audio files' (name, bytes) -> model-form clips [N, ...] at the model's rate and length; a file that is not
    audio or is silent is named with the option it came from (`what`)."""
    mod = modality_of(model)
    out = []
    for name, body in blobs:
        try:
            out.append(mod.from_upload(body, model.shape, model.codec))
        except (OSError, ValueError) as e:
            raise DataError(f"{what} {name}: {e}") from None
    return mod.to_model(torch.cat(out)).to(model.device)


def voice_for(model: Family, voice: Optional[str], voice_from: Sequence[Blob], n: int, gen) -> torch.Tensor:
    """The voices [n, Ds] asked for: `voice_from` recordings (one voice of them all), a training speaker's name,
    or 'new' (n voices no training speaker has)."""
    need(model, "voice", "voices (--voice, --voice-from)")
    if voice_from:
        if voice is not None:
            raise ConfigError("--voice and --voice-from both given: pick one")
        return model.voice_of(read_clips(model, voice_from, "--voice-from")).expand(n, -1)
    if voice is None or voice == NEW:
        return model.new_voices(n, gen)
    return model.named_voice(voice).expand(n, -1)


@torch.no_grad()
def voice_samples(
    model: Family,
    n: int,
    seed: int = 0,
    label: Optional[int] = None,
    voices: Sequence[str] = (),
    voice_from: Sequence[Blob] = (),
    mode: str = "prior",
    allow_copies: bool = False,
) -> tuple[object, Optional[np.ndarray], GuardReport]:
    """(n clips in the user form, their labels, the guards' report). prior: each clip in the voice asked
    (`voices`: at most one name or 'new'; `voice_from`: recordings of one speaker), saying class `label` or
    words drawn from the training mix; interpolate: n clips on the path from voices[0] to voices[1], one content.
    Near copies of training clips are drawn again unless `allow_copies`."""
    need(model, "voice", "voices (--voice, --voice-from)")
    gen = torch.Generator().manual_seed(seed)
    if mode == "interpolate":
        if len(voices) != 2 or voice_from:
            raise ConfigError("--mode interpolate with voices needs two --voice options (names or 'new')")
        a, b = (voice_for(model, v, (), 1, gen)[0] for v in voices)
        y = model.labels(1, gen, label)
        # one seed for every clip: the same content (words, timing) in each voice along the path
        path = [(1 - t) * a + t * b for t in torch.linspace(0, 1, n).tolist()]
        clips = torch.cat([model.speak(v[None], y, torch.Generator().manual_seed(seed)) for v in path])
        labels = None if y is None else y.expand(n).cpu().numpy()
        return to_samples(model, clips), labels, GuardReport()
    if len(voices) > 1:
        raise ConfigError(f"--voice given {len(voices)} times: one voice a sample run (two with --mode interpolate)")
    asked = voice_for(model, voices[0] if voices else None, voice_from, n, gen)

    def draw(idx: torch.Tensor, s: int):
        g = torch.Generator().manual_seed(s)
        fresh = voices and voices[0] == NEW and s != seed  # a redrawn new voice is another new voice
        v = voice_for(model, NEW, (), len(idx), g) if fresh else asked[idx.to(asked.device)]
        y = model.labels(len(idx), g, label)
        return model.speak(v, y, g), y

    return guarded(model, draw, n, seed, allow_copies, screen=False)[:3]


@torch.no_grad()
def convert_clips(model: Family, clips: Sequence[Blob], voice: Optional[str], voice_from: Sequence[Blob] = ()):
    """Audio files' (name, bytes) said in another voice (a training speaker's name, or that of `voice_from`
    recordings): clips in the user form."""
    need(model, "voice", "converting a voice")
    if voice is None and not voice_from or voice == NEW:
        raise ConfigError("convert speaks in the voice of a training speaker or a recording: --voice NAME or "
                          "--voice-from recording.wav")  # fmt: skip
    x = read_clips(model, clips, "--input")
    return to_samples(model, model.convert(x, voice_for(model, voice, voice_from, len(x), None)))


def convert_file(
    model: Family, inputs: Path, out: Path, voice: Optional[str] = None, voice_from: Sequence[Path] = ()
) -> list[Path]:
    """Every audio file of `inputs` (a file or a folder) said in another voice: a WAV of the same name in `out`
    (a folder), or `out` itself for one file; each signed and logged."""
    files = modality_of(model).input_files(inputs, "--input")
    clips = convert_clips(model, file_blobs(files, "--input"), voice, file_blobs(voice_from, "--voice-from"))
    info = {"mode": f"convert to {voice or 'the voice of ' + ', '.join(map(str, voice_from))}"}
    if len(files) == 1 and out.suffix:
        return [write_samples(model, clips, out, **info)]
    out.mkdir(parents=True, exist_ok=True)
    return [write_samples(model, clips[i : i + 1], out / f"{f.stem}.wav", **info) for i, f in enumerate(files)]
