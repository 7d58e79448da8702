"""Endpoints that take an upload: reconstruction and the path between two files (VAEs), restoration (image
models), translation (CycleGAN)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

import torch
from fastapi import APIRouter, Depends, HTTPException, Query, Request

from ..errors import ConfigError, DataError
from ..modalities import modality_of
from ..restore import check_restorable, read_upload, restore_with
from ..sample.translate import read_upload as read_image_upload
from ..sample.translate import translate_stored
from .common import (
    CLASS,
    FORMAT,
    MAX_RESTORE_STEPS,
    MAX_STEPS,
    UPLOAD_BODY,
    Served,
    capped_body,
    label_of,
    need,
    respond,
    served,
)
from .generation import path_between

router = APIRouter(prefix="/api/{name}", tags=["uploads and restoration"])


@router.post("/reconstruct", openapi_extra=UPLOAD_BODY)
async def reconstruct(
    name: str,
    request: Request,
    cls: str | None = CLASS,
    format: str | None = FORMAT,
    runs: Served = Depends(served),
):
    """The request body is an input (an image file; a UTF-8 sentence; an audio file); returns [input,
    reconstruction]. A conditional model needs the input's class."""
    m = runs.model(name)
    need(m, name, "reconstruct")
    mod = modality_of(m)
    label = label_of(m, cls)
    if m.conditional and label is None:
        raise HTTPException(422, f"'{name}' is conditional: give the {mod.unit}'s class, e.g. ?class=0")
    body = await capped_body(request)
    if not body:
        raise HTTPException(400, f"empty body: send the {mod.unit} file's bytes")
    try:
        x = mod.from_upload(body, m.shape, m.codec)
    except (ValueError, OSError) as e:
        raise HTTPException(400, f"not a readable {mod.unit} ({e})") from None
    with torch.no_grad():
        rec = m.reconstruct(mod.to_model(x).to(m.device), m.labels(1, label=label))
    pair = mod.to_samples(torch.cat([x, mod.to_stored(rec)]), m.codec)
    return respond(m, pair, format, 2)


@router.post("/between")
async def between_files(
    name: str,
    request: Request,
    steps: int = Query(7, ge=2, le=MAX_STEPS),
    cls: str | None = CLASS,
    format: str | None = FORMAT,
    runs: Served = Depends(served),
):
    """The path between two uploaded files' latents (two MIDI melodies, two images, two clips), for models
    that reconstruct: the body is JSON {"a": the first file in base64, "b": the second}."""
    m = runs.model(name)
    body = await capped_body(request)
    expected = 'expected a JSON body {"a": the first file in base64, "b": the second}'
    try:
        files = json.loads(body)
    except ValueError:
        raise HTTPException(400, f"{expected}; the body is not JSON") from None
    missing = [k for k in ("a", "b") if not (isinstance(files, dict) and isinstance(files.get(k), str))]
    if missing:
        raise HTTPException(400, f"{expected}; missing: {', '.join(missing)}")
    try:
        blobs = [base64.b64decode(files[k], validate=True) for k in ("a", "b")]
    except binascii.Error as e:
        raise HTTPException(400, f"{expected}; not base64 ({e})") from None
    return path_between(m, name, blobs, steps, cls, format)


@router.post("/restore", openapi_extra=UPLOAD_BODY)
async def restore(
    name: str,
    request: Request,
    task: Literal["inpaint", "superres", "deblur", "denoise"] = Query("inpaint"),
    box: str | None = Query(None, max_length=40, description="inpaint: the missing box x,y,width,height"),
    scale: int = Query(4, ge=2, le=16, description="superres: the factor (the upload is 1/scale of the model)"),
    steps: int = Query(200, ge=1, le=MAX_RESTORE_STEPS, description="latent search steps (GANs and VAEs)"),
    restarts: int = Query(4, ge=1, le=8),
    cls: str | None = CLASS,
    format: str | None = FORMAT,
    runs: Served = Depends(served),
):
    """The request body is an image file; returns [input, restored]. Inpainting: the missing pixels are
    the transparent ones of a PNG with alpha (alpha < 128), or `box`. Any image GAN or VAE restores by
    latent search; a pix2pix model restores the damage it was trained for."""
    m = runs.model(name)
    try:
        check_restorable(m)
    except ConfigError as e:
        raise HTTPException(400, str(e)) from None
    body = await capped_body(request)
    try:
        observed, degradation, shown = read_upload(m, body, task, box, scale)
        index = label_of(m, cls)  # a conditional model without it is refused by the restoration, by name
        labels = None if index is None else m.labels(len(observed), label=index)
        out = restore_with(m, task, observed, degradation, labels, steps, restarts)
    except (ConfigError, DataError) as e:
        raise HTTPException(422, str(e)) from None
    mod = modality_of(m)
    return respond(m, mod.to_samples(torch.cat([shown, mod.to_stored(out)])), format, 2)


@router.post("/translate", openapi_extra=UPLOAD_BODY)
async def translate(
    name: str,
    request: Request,
    direction: Literal["a2b", "b2a"] = Query("a2b", description="a2b: the upload is domain A, made B"),
    format: str | None = FORMAT,
    runs: Served = Depends(served),
):
    """The request body is an image file of one domain (any size: resized and cropped to the model's); returns
    [input, translated, translated back]."""
    m = runs.model(name)
    need(m, name, "translate", "a translation model (cyclegan)")
    body = await capped_body(request)
    if not body:
        raise HTTPException(400, "empty body: send the image file's bytes")
    try:
        stored = read_image_upload(m, body, "the upload")
    except DataError as e:
        raise HTTPException(400, str(e)) from None
    moved, back = translate_stored(m, stored, direction)
    return respond(m, modality_of(m).to_samples(torch.cat([stored, moved, back])), format, 3)
