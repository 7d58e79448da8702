"""What every router of the server shares: the served runs (held by the app), query parameters, and the
checks and answers every endpoint gives the same way."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Optional

from fastapi import HTTPException, Query, Request

from ..errors import ConfigError, RunError
from ..modalities import MODALITIES, modality_of
from ..safety.provenance import EMBEDS
from ..safety.publish import publish_bytes
from ..sample import class_index
from ..sample.sampling import set_options
from .live import ServedRun, watch

MAX_N, MAX_STEPS, MAX_UPLOAD, MAX_TEXT, MAX_RESTORE_STEPS = 256, 32, 4 * 1024 * 1024, 2000, 500
SEED = Query(0, ge=0, le=2**31 - 1, description="same seed, same samples")
CLASS = Query(
    None, alias="class", description="conditional models: class name or index (default: the data's class mix)"
)
FORMAT = Query(
    None,
    description="the answer's format, by the model's modality (the first is the default): "
    + "; ".join(f"{m.name}: {', '.join(m.formats)}" for m in MODALITIES.values()),
)
PROMPT = Query(None, max_length=200, description="text-to-image models: what to draw, e.g. 'a dark ankle boot'")
TEMPERATURE = Query(None, ge=0, le=5, alias="temperature", description="text models: sampling temperature (0 = greedy)")
# The body of the upload endpoints, declared so the OpenAPI schema (and clients generated from it) know it.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string", "maxLength": MAX_TEXT}},
        },
    }
}


class Served:
    """The runs an app serves, by the name of their folder, fixed at start-up."""

    def __init__(self, runs: list[str | Path]):
        self.runs = watch(runs)
        if not self.runs:
            raise RunError(f"no runs to serve under {', '.join(map(str, runs))} (a run is a folder with config.json)")

    def watched(self, name: str) -> ServedRun:
        if name not in self.runs:
            raise HTTPException(404, f"no model named '{name}'; served: {', '.join(self.runs)}")
        return self.runs[name]

    def model(self, name: str):
        """The model of run `name`; 409 while it has no weights yet."""
        m = self.watched(name).model()
        if m is None:
            raise HTTPException(
                409,
                f"'{name}' has no weights yet (it is {self.watched(name).info()['status']}); "
                "try again after its first checkpoint",
            )
        return m


def served(request: Request) -> Served:
    """The app's served runs (a FastAPI dependency)."""
    return request.app.state.served


def need(m, name: str, ability: str, kind: str = "a VAE") -> None:
    """Refuse (400) a model without `ability`, saying which `kind` of model the endpoint needs."""
    if ability not in m.abilities:
        raise HTTPException(400, f"'{name}' is a {m.name}, which cannot {ability}; this endpoint needs {kind}")


def label_of(m, cls: Optional[str]):
    try:
        return class_index(m, cls)
    except ConfigError as e:
        raise HTTPException(422, str(e)) from None


def respond(m, samples, fmt: Optional[str], nrow: Optional[int] = None, labels=None, **provenance):
    """The model's modality's answer in format `fmt` (its first format by default), signed where it is one file
    of a type C2PA embeds in; 422 for a format it lacks."""
    mod = modality_of(m)
    if fmt is not None and fmt not in mod.formats:
        raise HTTPException(
            422, f"format '{fmt}' is not served for {mod.name} models; expected {', '.join(mod.formats)}"
        )
    return signed(m, mod.response(samples, fmt or mod.formats[0], nrow, labels), **provenance)


def signed(m, response, **provenance):
    """A binary answer (a PNG, WAV, GIF, MP4) with a signed C2PA manifest and its fingerprint in the run's
    generation log, as `genforge sample` writes files; other answers (JSON, text) pass unchanged."""
    suffix = mimetypes.guess_extension((response.media_type or "").split(";")[0].strip()) or ""
    suffix = {".jpe": ".jpg"}.get(suffix, suffix)
    if suffix not in EMBEDS:
        return response
    response.body = publish_bytes(m, bytes(response.body), suffix, **{"mode": "served", **provenance})
    response.headers["content-length"] = str(len(response.body))
    return response


def set_temperature(m, t: Optional[float]) -> None:
    if t is not None:
        try:
            set_options(m, [f"model.temperature={t}"])
        except ConfigError as e:
            raise HTTPException(422, str(e)) from None


async def capped_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes MAX_UPLOAD (never read whole first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD:
        raise HTTPException(413, f"upload of {declared} bytes is over the {MAX_UPLOAD} byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD:
            raise HTTPException(413, f"upload is over the {MAX_UPLOAD} byte limit")
    return bytes(body)
