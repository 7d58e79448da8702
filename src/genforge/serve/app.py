"""A generation server: `genforge serve RUN [RUN ...] --port 8000` (binds 127.0.0.1).

HTTP API (OpenAPI docs at /docs) and a page at / to use it by hand. Models are
addressed by the name of their run directory, fixed at start-up: no request ever
names a file. Counts, steps and upload sizes are bounded; bad requests get a 4xx
with a message. Answers are the model's modality's (PNG grids or base64 PNGs for
images; JSON or plain text for text); endpoints that need an ability (traverse,
reconstruct) ask the family for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import torch
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from ..errors import ConfigError, DataError, RunError
from ..modalities import modality_of
from ..modalities.base import class_labels
from ..restore import read_upload, restore_with
from ..sample import class_index, interpolate_inputs, prior_samples
from ..sample import interpolate as interpolate_samples
from ..sample import traverse as traverse_samples
from ..sample.sampling import set_options
from .live import watch

MAX_N, MAX_STEPS, MAX_UPLOAD, MAX_TEXT, MAX_RESTORE_STEPS = 256, 32, 4 * 1024 * 1024, 2000, 500
SEED = Query(0, ge=0, le=2**31 - 1, description="same seed, same samples")
CLASS = Query(
    None, alias="class", description="conditional models: class name or index (default: the data's class mix)"
)
FORMAT = Query(
    None, description="image models: png (a grid, default) or json (base64 PNGs); text models: json (default) or txt"
)
PROMPT = Query(None, max_length=200, description="text-to-image models: what to draw, e.g. 'a dark ankle boot'")
TEMPERATURE = Query(None, ge=0, le=5, alias="temperature", description="text models: sampling temperature (0 = greedy)")
PAGE = (Path(__file__).parent / "page.html").read_text()
# The body of /reconstruct, declared so the OpenAPI schema (and clients generated from it) know it.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string", "maxLength": MAX_TEXT}},
        },
    }
}


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


def create_app(runs: list[str | Path]) -> FastAPI:
    """The app serving each run directory in `runs` (or every run under a folder in `runs`) under the
    directory's name. Runs still training are watched: new weights are loaded as they are written."""
    served = watch(runs)
    if not served:
        raise RunError(f"no runs to serve under {', '.join(map(str, runs))} (a run is a folder with config.json)")
    app = FastAPI(title="genforge", description="Generate from trained genforge models; watch runs train.")

    def watched(name: str):
        if name not in served:
            raise HTTPException(404, f"no model named '{name}'; served: {', '.join(served)}")
        return served[name]

    def get(name: str):
        m = watched(name).model()
        if m is None:
            raise HTTPException(
                409,
                f"'{name}' has no weights yet (it is {watched(name).info()['status']}); "
                "try again after its first checkpoint",
            )
        return m

    def need(m, name: str, ability: str):
        if ability not in m.abilities:
            raise HTTPException(400, f"'{name}' is a {m.name}, which cannot {ability}; this endpoint needs a VAE")

    def label_of(m, cls: str | None):
        try:
            return class_index(m, cls)
        except ConfigError as e:
            raise HTTPException(422, str(e)) from None

    def respond(m, samples, fmt: Optional[str], nrow: Optional[int] = None, labels=None):
        mod = modality_of(m)
        allowed = mod.formats
        if fmt is not None and fmt not in allowed:
            raise HTTPException(
                422, f"format '{fmt}' is not served for {mod.name} models; expected {', '.join(allowed)}"
            )
        return mod.response(samples, fmt or allowed[0], nrow, labels)

    def temperature(m, t: Optional[float]):
        if t is not None:
            try:
                set_options(m, [f"model.temperature={t}"])
            except ConfigError as e:
                raise HTTPException(422, str(e)) from None

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return PAGE

    @app.get("/api/runs")
    def list_runs():
        """Every watched run: family, preset, modality, status (training, finished, interrupted, diverged,
        failed, stopped), step, total, whether it has weights yet."""
        return [r.info() for r in served.values()]

    @app.get("/api/{name}/metrics")
    def metrics(name: str, since: int = Query(0, ge=0, description="first line of metrics.jsonl to send")):
        """Training records from line `since` on, and the `since` of the next poll."""
        return watched(name).metrics(since) | {"status": watched(name).info()}

    @app.get("/api/{name}/preview")
    def preview(name: str):
        """The newest training preview: a PNG grid (images), a text list (text), a WAV (audio); 404 before the first."""
        run = watched(name)
        path = run.newest_preview()
        if path is None:
            raise HTTPException(404, f"'{name}' has no preview yet")
        return Response(
            path.read_bytes(), media_type=run.modality.preview_media, headers={"X-Step": path.stem.split("_")[-1]}
        )

    @app.get("/api/models")
    def list_models():
        """Every served model with weights: family, modality, abilities, shape, latent size, classes, eval figures."""
        models = {n: r.model() for n, r in served.items()}
        return {
            n: {
                "family": m.name,
                "modality": m.modality,
                "abilities": sorted(m.abilities),
                "preset": m.run_config.preset,
                "shape": list(m.shape),
                "latent_dim": m.latent_dim,
                "classes": m.dataset_info.get("class_names"),
                "conditional": m.conditional,
                "eval": m.eval_figures,
            }
            for n, m in models.items()
            if m is not None
        }

    @app.get("/api/{name}/generate")
    def generate(
        name: str,
        n: int = Query(16, ge=1, le=MAX_N),
        seed: int = SEED,
        cls: str | None = CLASS,
        format: Literal["png", "json", "txt", "wav"] | None = FORMAT,
        temperature_: float | None = TEMPERATURE,
        prompt: str | None = PROMPT,
    ):
        """n samples for a seed: a PNG grid or base64 PNGs (images), JSON or plain text (text); text-to-image
        models draw a prompt."""
        m = get(name)
        temperature(m, temperature_)
        try:
            samples, labels = prior_samples(m, n, seed, label=label_of(m, cls), prompt=prompt)
        except ConfigError as e:
            raise HTTPException(422, str(e)) from None
        return respond(m, samples, format, labels=class_labels(labels, m.dataset_info.get("class_names")))

    @app.get("/api/{name}/interpolate")
    def interpolate(
        name: str,
        seed_a: int = SEED,
        seed_b: int = Query(1, ge=0, le=2**31 - 1),
        steps: int = Query(8, ge=2, le=MAX_STEPS),
        t: float | None = Query(None, ge=0.0, le=1.0, description="one frame at this fraction instead"),
        cls: str | None = CLASS,
        format: Literal["png", "json", "txt", "wav"] | None = FORMAT,
    ):
        """Samples along the spherical path between the latents of two seeds."""
        m = get(name)
        need(m, name, "interpolate")
        out = interpolate_samples(
            m, seed_a, seed_b, steps, label=label_of(m, cls), t=None if t is None else torch.tensor([t])
        )
        return respond(m, out, format, len(out))

    @app.get("/api/{name}/between")
    def between(
        name: str,
        a: str = Query(..., max_length=MAX_TEXT, description="first sentence"),
        b: str = Query(..., max_length=MAX_TEXT, description="second sentence"),
        steps: int = Query(7, ge=2, le=MAX_STEPS),
        cls: str | None = CLASS,
        format: Literal["json", "txt", "wav"] | None = FORMAT,
    ):
        """Text models that reconstruct: the path between two typed sentences' latents (Bowman's homotopy)."""
        m = get(name)
        need(m, name, "reconstruct")
        try:
            xa, xb = (modality_of(m).from_upload(v.encode(), m.shape, m.codec) for v in (a, b))
        except (ValueError, OSError) as e:
            raise HTTPException(400, f"not a usable input for '{name}' ({e})") from None
        return respond(m, interpolate_inputs(m, xa, xb, steps, label=label_of(m, cls)), format, steps)

    @app.get("/api/{name}/traverse")
    def traverse(
        name: str,
        dim: int = Query(0, ge=0),
        seed: int = SEED,
        steps: int = Query(9, ge=2, le=MAX_STEPS),
        span: float = Query(3.0, gt=0, le=10),
        cls: str | None = CLASS,
        format: Literal["png", "json", "txt", "wav"] | None = FORMAT,
    ):
        """Vary one latent dimension of a seed's latent over [-span, span]."""
        m = get(name)
        need(m, name, "traverse")
        if dim >= m.latent_dim:
            raise HTTPException(422, f"dim must be below the latent size {m.latent_dim}, got {dim}")
        return respond(m, traverse_samples(m, seed, dim, steps, span, label=label_of(m, cls)), format, steps)

    @app.post("/api/{name}/reconstruct", openapi_extra=UPLOAD_BODY)
    async def reconstruct(
        name: str,
        request: Request,
        cls: str | None = CLASS,
        format: Literal["png", "json", "txt", "wav"] | None = FORMAT,
    ):
        """The request body is an input (an image file; a UTF-8 sentence); returns [input, reconstruction].
        A conditional model needs the input's class."""
        m = get(name)
        need(m, name, "reconstruct")
        label = label_of(m, cls)
        if m.conditional and label is None:
            raise HTTPException(422, f"'{name}' is conditional: give the {modality_of(m).unit}'s class, e.g. ?class=0")
        body = await capped_body(request)
        if not body:
            raise HTTPException(400, f"empty body: send the {modality_of(m).unit} file's bytes")
        mod = modality_of(m)
        try:
            x = mod.from_upload(body, m.shape, m.codec)
        except (ValueError, OSError) as e:
            raise HTTPException(400, f"not a readable {mod.unit} ({e})") from None
        with torch.no_grad():
            rec = m.reconstruct(mod.to_model(x).to(m.device), m.labels(1, label=label))
        pair = mod.to_samples(torch.cat([x, mod.to_stored(rec)]), m.codec)
        return respond(m, pair, format, 2)

    @app.post("/api/{name}/restore", openapi_extra=UPLOAD_BODY)
    async def restore(
        name: str,
        request: Request,
        task: Literal["inpaint", "superres", "deblur", "denoise"] = Query("inpaint"),
        box: str | None = Query(None, max_length=40, description="inpaint: the missing box x,y,width,height"),
        scale: int = Query(4, ge=2, le=16, description="superres: the factor (the upload is 1/scale of the model)"),
        steps: int = Query(200, ge=1, le=MAX_RESTORE_STEPS, description="latent search steps (GANs and VAEs)"),
        restarts: int = Query(4, ge=1, le=8),
        cls: str | None = CLASS,
        format: Literal["png", "json"] | None = FORMAT,
    ):
        """The request body is an image file; returns [input, restored]. Inpainting: the missing pixels are
        the transparent ones of a PNG with alpha (alpha < 128), or `box`. Any image GAN or VAE restores by
        latent search; a pix2pix model restores the damage it was trained for."""
        m = get(name)
        if m.modality != "image":
            raise HTTPException(400, f"'{name}' is a {m.modality} model; restoration needs an image model")
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

    return app


def serve(runs: list[str | Path], host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn (blocking)."""
    import uvicorn

    uvicorn.run(create_app(runs), host=host, port=port)
