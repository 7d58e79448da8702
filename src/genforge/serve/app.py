"""A generation server: `genforge serve RUN [RUN ...] --port 8000` (binds 127.0.0.1).

HTTP API (OpenAPI docs at /docs) and a page at / to use it by hand. Models are
addressed by the name of their run directory, fixed at start-up: no request ever
names a file. Counts, steps and upload sizes are bounded; bad requests get a 4xx
with a message. Answers are the model's modality's (PNG grids or base64 PNGs for
images; JSON or plain text for text; JSON of WAVs or one WAV for audio); endpoints
that need an ability (traverse, reconstruct) ask the family for it.

The endpoints are routers by concern: generation, uploads and restoration, runs
and the live view, verification, voices, and the page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from . import generation, page, runs, uploads, verify, voices
from .common import Served


def create_app(run_dirs: list[str | Path]) -> FastAPI:
    """The app serving each run directory in `run_dirs` (or every run under a folder in it) under the
    directory's name. Runs still training are watched: new weights are loaded as they are written."""
    served = Served(run_dirs)
    app = FastAPI(title="genforge", description="Generate from trained genforge models; watch runs train.")
    app.state.served = served
    for module in (page, runs, generation, uploads, verify, voices):
        app.include_router(module.router)
    return app


def serve(run_dirs: list[str | Path], host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn (blocking)."""
    import uvicorn  # deferred: only `genforge serve` starts a server

    uvicorn.run(create_app(run_dirs), host=host, port=port)
