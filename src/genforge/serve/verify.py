"""The verify endpoint: which served run made an uploaded file, by its manifest and its fingerprints."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from ..safety.fingerprints import KINDS
from ..safety.log import LogIndex
from ..safety.provenance import SIDECAR
from ..safety.verify import verify_file
from .common import UPLOAD_BODY, Served, capped_body, served

router = APIRouter(prefix="/api", tags=["verification"])
SUFFIXES = sorted({s for k in KINDS.values() for s in k.suffixes})


@router.post("/verify", openapi_extra=UPLOAD_BODY)
async def verify(
    request: Request,
    filename: str = Query(..., max_length=200, description="the file's name: its suffix says how to read it"),
    runs: Served = Depends(served),
):
    """The body is a file's bytes; returns whether it carries a valid genforge manifest (and the run it names)
    and which served run's generation log holds its fingerprints. A sidecar manifest cannot be sent with it:
    files whose manifest is a sidecar (MIDI, text) are recognised by their fingerprints."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise HTTPException(422, f"filename {filename!r}: expected a file of type {', '.join(SUFFIXES)}")
    body = await capped_body(request)
    if not body:
        raise HTTPException(400, "empty body: send the file's bytes")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(body)
        verdict = verify_file(path, LogIndex([r.path for r in runs.runs.values()]))
    return verdict.as_dict() | {"file": filename, "sidecar": suffix + SIDECAR}
