"""Generation endpoints: samples for a seed, interpolations, the path between two inputs, traversals."""

from __future__ import annotations

import json
from typing import Literal

import torch
from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from ..errors import ConfigError, GenforgeError
from ..limits import MIN_FPS
from ..modalities import MODALITIES, modality_of
from ..modalities.base import class_labels
from ..safety.guard import guarded_samples
from ..sample import animate as animate_walks
from ..sample import interpolate as interpolate_samples
from ..sample import interpolate_inputs
from ..sample import traverse as traverse_samples
from ..sample.answers import answers
from ..sample.sampling import set_options
from .common import (
    CLASS,
    FORMAT,
    MAX_N,
    MAX_STEPS,
    MAX_TEXT,
    PROMPT,
    SEED,
    TEMPERATURE,
    Served,
    label_of,
    need,
    respond,
    served,
    set_temperature,
    signed,
)

router = APIRouter(prefix="/api/{name}", tags=["generation"])


class Question(BaseModel):
    """A question for a dialog model, and how to answer it."""

    question: str = Field(..., min_length=1, max_length=MAX_TEXT)
    n: int = Field(5, ge=1, le=MAX_N, description="answers")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    cls: str | None = Field(None, alias="class", description="the category (persona) of a conditional model")
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    allow_copies: bool = Field(False, description="keep near copies of training answers (default: drawn again)")
    text_filter: bool = Field(True, description="hold back what the offensive-language screen flags")


@router.post("/answer")
def answer(name: str, body: Question, runs: Served = Depends(served)):
    """Dialog models: n answers to a question, {"question": ..., "answers": [...]}."""
    m = runs.model(name)
    need(m, name, "answer", "a dialog model (dialog-cvae, dialog-gan)")
    try:
        set_options(m, [], temperature=body.temperature, top_p=body.top_p)
        guards = {"allow_copies": body.allow_copies, "screen": body.text_filter}
        return answers(m, [body.question], body.n, body.seed, label_of(m, body.cls), **guards)[0]
    except GenforgeError as e:  # a question with no words, a class the model lacks
        raise HTTPException(422, str(e)) from None


@router.get("/generate")
def generate(
    name: str,
    n: int = Query(16, ge=1, le=MAX_N),
    seed: int = SEED,
    cls: str | None = CLASS,
    format: str | None = FORMAT,
    temperature_: float | None = TEMPERATURE,
    prompt: str | None = PROMPT,
    allow_copies: bool = Query(False, description="keep near copies of training items (default: drawn again)"),
    text_filter: bool = Query(True, description="text: hold back what the offensive-language screen flags"),
    runs: Served = Depends(served),
):
    """n samples for a seed, in the model's modality's format (a PNG grid or base64 PNGs for images, JSON or
    plain text for text, JSON of base64 WAVs or one WAV for audio); text-to-image models draw a prompt. Near
    copies of training items and screened text are drawn again, as `genforge sample` does (header
    X-Genforge-Guards: what the guards did)."""
    m = runs.model(name)
    set_temperature(m, temperature_)
    try:
        samples, labels, report = guarded_samples(m, n, seed, label_of(m, cls), prompt, allow_copies, text_filter)
    except ConfigError as e:
        raise HTTPException(422, str(e)) from None
    except GenforgeError as e:  # the copy guard cannot find the training data
        raise HTTPException(409, str(e)) from None
    guards = report.as_dict()
    names = class_labels(labels, m.dataset_info.get("class_names"))
    answer = respond(m, samples, format, labels=names, seed=seed, guards=guards)
    answer.headers["X-Genforge-Guards"] = json.dumps(guards, separators=(",", ":"))
    return answer


@router.get("/interpolate")
def interpolate(
    name: str,
    seed_a: int = SEED,
    seed_b: int = Query(1, ge=0, le=2**31 - 1),
    steps: int = Query(8, ge=2, le=MAX_STEPS),
    t: float | None = Query(None, ge=0.0, le=1.0, description="one frame at this fraction instead"),
    cls: str | None = CLASS,
    format: str | None = FORMAT,
    runs: Served = Depends(served),
):
    """Samples along the spherical path between the latents of two seeds."""
    m = runs.model(name)
    need(m, name, "interpolate")
    out = interpolate_samples(
        m, seed_a, seed_b, steps, label=label_of(m, cls), t=None if t is None else torch.tensor([t])
    )
    return respond(m, out, format, len(out))


@router.get("/between")
def between(
    name: str,
    a: str = Query(..., max_length=MAX_TEXT, description="first sentence"),
    b: str = Query(..., max_length=MAX_TEXT, description="second sentence"),
    steps: int = Query(7, ge=2, le=MAX_STEPS),
    cls: str | None = CLASS,
    format: str | None = FORMAT,
    runs: Served = Depends(served),
):
    """Models that reconstruct typed inputs (text): the path between two typed sentences' latents (Bowman's
    homotopy). POST /between takes two files instead."""
    return path_between(runs.model(name), name, [a.encode(), b.encode()], steps, cls, format)


def path_between(m, name: str, blobs: list[bytes], steps: int, cls: str | None, format: str | None):
    """The answer of /between: the greedy decodings along the path between two inputs' latents."""
    need(m, name, "reconstruct")
    try:
        xa, xb = (modality_of(m).from_upload(v, m.shape, m.codec) for v in blobs)
    except (ValueError, OSError) as e:
        raise HTTPException(400, f"not a usable input for '{name}' ({e})") from None
    return respond(m, interpolate_inputs(m, xa, xb, steps, label=label_of(m, cls)), format, steps)


@router.get("/traverse")
def traverse(
    name: str,
    dim: int = Query(0, ge=0),
    seed: int = SEED,
    steps: int = Query(9, ge=2, le=MAX_STEPS),
    span: float = Query(3.0, gt=0, le=10),
    cls: str | None = CLASS,
    format: str | None = FORMAT,
    runs: Served = Depends(served),
):
    """Vary one latent dimension of a seed's latent over [-span, span]."""
    m = runs.model(name)
    need(m, name, "traverse")
    if dim >= m.latent_dim:
        raise HTTPException(422, f"dim must be below the latent size {m.latent_dim}, got {dim}")
    return respond(m, traverse_samples(m, seed, dim, steps, span, label=label_of(m, cls)), format, steps)


@router.get("/animate")
def animate(
    name: str,
    walks: int = Query(1, ge=1, le=10, description="walks (a conditional model without a class: shared by class)"),
    frames: int = Query(12, ge=1, le=24, description="frames from one point of a walk to the next"),
    points: int = Query(4, ge=2, le=6, description="latent points a walk passes through before it loops"),
    fps: float = Query(12.0, ge=MIN_FPS, le=60),
    seed: int = SEED,
    cls: str | None = CLASS,
    format: Literal["gif", "mp4"] = Query("gif", description="an animated GIF or an MP4 video"),
    runs: Served = Depends(served),
):
    """Image models: looping walks through the latent space, as one animated grid."""
    m = runs.model(name)
    need(m, name, "interpolate", "an image GAN or VAE")
    try:
        clips, _, nrow = animate_walks(m, walks, frames, points, seed, label_of(m, cls), fps)
    except ConfigError as e:
        raise HTTPException(422, str(e)) from None
    return signed(m, MODALITIES.get("video").response(clips, format, nrow), seed=seed, mode="animate")
