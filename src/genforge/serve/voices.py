"""Voice endpoints (models with the `voice` ability): the training speakers, clips in a voice, conversions.

    GET  /api/RUN/voices                 {"voices": [training speakers' names]}
    POST /api/RUN/speak                  {"voice": "new" | NAME, "voice_from": base64 audio, "class", "n", "seed"}
    POST /api/RUN/convert                {"clip": base64 audio, "voice": NAME, "voice_from": base64 audio}

Both POSTs answer in the audio formats of /generate (JSON of base64 WAVs by default, `format=wav` one WAV).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from ..errors import GenforgeError
from ..modalities.base import class_labels
from ..sample.voices import convert_clips, voice_samples
from .common import MAX_N, MAX_UPLOAD, Served, label_of, need, respond, served

router = APIRouter(prefix="/api/{name}", tags=["voices"])
AUDIO_B64 = 4 * MAX_UPLOAD // 3 + 4  # a base64 upload of at most MAX_UPLOAD bytes


class Speak(BaseModel):
    """Clips in a voice: a training speaker's, a new one, or that of a recording."""

    voice: str | None = Field("new", max_length=200, description="'new' or a training speaker's name")
    voice_from: str | None = Field(None, max_length=AUDIO_B64, description="base64 of a recording of the voice")
    cls: str | None = Field(None, alias="class", description="the word (class) to say")
    n: int = Field(4, ge=1, le=MAX_N)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    format: str | None = Field(None, description="the audio formats of /generate")


class Convert(BaseModel):
    """A clip to say in another voice: a training speaker's, or that of a recording."""

    clip: str = Field(..., min_length=1, max_length=AUDIO_B64, description="base64 of the clip to convert")
    voice: str | None = Field(None, max_length=200, description="a training speaker's name")
    voice_from: str | None = Field(None, max_length=AUDIO_B64, description="base64 of a recording of the voice")
    format: str | None = Field(None, description="the audio formats of /generate")


def _blob(what: str, text: str | None) -> list[tuple[str, bytes]]:
    if text is None:
        return []
    try:
        return [(what, base64.b64decode(text, validate=True))]
    except (binascii.Error, ValueError):
        raise HTTPException(400, f"{what}: not base64 (expected the audio file's bytes in base64)") from None


@router.get("/voices")
def voices(name: str, runs: Served = Depends(served)):
    """The training speakers of a voice model, whose voices `voice` names."""
    m = runs.model(name)
    need(m, name, "voice", "a voice model (voice-vae)")
    return {"voices": m.voice_names()}


@router.post("/speak")
def speak(name: str, body: Speak, runs: Served = Depends(served)):
    """n clips in the voice asked for, saying the class asked for (or words of the training mix)."""
    m = runs.model(name)
    need(m, name, "voice", "a voice model (voice-vae)")
    recording = _blob("voice_from", body.voice_from)
    try:
        asked = [] if recording else [body.voice or "new"]
        samples, labels, report = voice_samples(m, body.n, body.seed, label_of(m, body.cls), asked, recording)
    except GenforgeError as e:  # an unknown voice, an unreadable or silent recording
        raise HTTPException(422, str(e)) from None
    names = class_labels(labels, m.dataset_info.get("class_names"))
    return respond(m, samples, body.format, labels=names, seed=body.seed, mode="voice", guards=report.as_dict())


@router.post("/convert")
def convert(name: str, body: Convert, runs: Served = Depends(served)):
    """The clip said in the voice asked for."""
    m = runs.model(name)
    need(m, name, "voice", "a voice model (voice-vae)")
    try:
        clips = convert_clips(m, _blob("clip", body.clip), body.voice, _blob("voice_from", body.voice_from))
    except GenforgeError as e:
        raise HTTPException(422, str(e)) from None
    return respond(m, clips, body.format, mode="convert")
