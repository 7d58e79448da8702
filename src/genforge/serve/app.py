"""A generation server: `genforge serve RUN [RUN ...] --port 8000` (binds 127.0.0.1).

HTTP API (OpenAPI docs at /docs) and a page at / to use it by hand. Models are
addressed by the name of their run directory, fixed at start-up: no request ever
names a file. Counts, steps and upload sizes are bounded; bad requests get a 4xx
with a message.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image, UnidentifiedImageError

from ..data import to_float, to_uint8
from ..data.images import square
from ..errors import ConfigError
from ..io import grid_png, png_bytes
from ..run import load
from ..sample import class_index, interpolate as interpolate_images, prior_samples, traverse as traverse_images

MAX_N, MAX_STEPS, MAX_UPLOAD = 256, 32, 4 * 1024 * 1024
SEED = Query(0, ge=0, le=2**31 - 1, description="same seed, same images")
CLASS = Query(None, alias="class", description="conditional models: class name or index (default: the data's class mix)")
PAGE = (Path(__file__).parent / "page.html").read_text()


def _tile_png(tile: np.ndarray) -> bytes:
    return png_bytes(Image.fromarray(tile.squeeze(-1) if tile.shape[-1] == 1 else tile))


def _respond(images: np.ndarray, fmt: str, nrow: int | None = None) -> Response:
    if fmt == "json":
        return JSONResponse({"images": [base64.b64encode(_tile_png(t)).decode() for t in images],
                             "shape": list(images.shape[1:])})
    return Response(grid_png(images, nrow), media_type="image/png")


def _nhwc(x: torch.Tensor) -> np.ndarray:
    return to_uint8(x).permute(0, 2, 3, 1).cpu().numpy()


def create_app(runs: list[str | Path]) -> FastAPI:
    """The app serving each run directory in `runs` under the directory's name."""
    models = {}
    for r in runs:
        name = Path(r).resolve().name
        if name in models:
            raise ValueError(f"two runs are named '{name}'; serve runs with distinct folder names")
        m = load(r)
        ev = Path(r) / "eval.json"
        m.eval_figures = {k: v.get("value") for k, v in json.loads(ev.read_text())["metrics"].items()} if ev.is_file() else {}
        models[name] = m
    app = FastAPI(title="genforge", description="Generate from trained genforge models.")

    def get(name: str):
        if name not in models:
            raise HTTPException(404, f"no model named '{name}'; served: {', '.join(models)}")
        return models[name]

    def need_vae(m, name: str):
        if not hasattr(m, "encode"):
            raise HTTPException(400, f"'{name}' is a {m.name}; this endpoint needs a VAE")

    def label_of(m, cls: str | None):
        try:
            return class_index(m, cls)
        except ConfigError as e:
            raise HTTPException(422, str(e)) from None

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return PAGE

    @app.get("/api/models")
    def list_models():
        """Every served model: family, image shape, latent size, classes, eval figures."""
        return {n: {"family": m.name, "preset": m.run_config.preset, "shape": list(m.shape), "latent_dim": m.latent_dim,
                    "classes": m.dataset_info.get("class_names"), "conditional": m.conditional, "eval": m.eval_figures}
                for n, m in models.items()}

    @app.get("/api/{name}/generate")
    def generate(name: str, n: int = Query(16, ge=1, le=MAX_N), seed: int = SEED, cls: str | None = CLASS,
                 format: Literal["png", "json"] = "png"):
        """n samples for a seed: a PNG grid, or JSON with one base64 PNG per image."""
        m = get(name)
        return _respond(prior_samples(m, n, seed, label=label_of(m, cls))[0], format)

    @app.get("/api/{name}/interpolate")
    def interpolate(name: str, seed_a: int = SEED, seed_b: int = Query(1, ge=0, le=2**31 - 1),
                    steps: int = Query(8, ge=2, le=MAX_STEPS),
                    t: float | None = Query(None, ge=0.0, le=1.0, description="one frame at this fraction instead"),
                    cls: str | None = CLASS, format: Literal["png", "json"] = "png"):
        """Images along the spherical path between the latents of two seeds."""
        m = get(name)
        imgs = interpolate_images(m, seed_a, seed_b, steps, label=label_of(m, cls),
                                  t=None if t is None else torch.tensor([t]))
        return _respond(imgs, format, len(imgs))

    @app.get("/api/{name}/traverse")
    def traverse(name: str, dim: int = Query(0, ge=0), seed: int = SEED, steps: int = Query(9, ge=2, le=MAX_STEPS),
                 span: float = Query(3.0, gt=0, le=10), cls: str | None = CLASS,
                 format: Literal["png", "json"] = "png"):
        """VAE: vary one latent dimension of a seed's latent over [-span, span]."""
        m = get(name)
        need_vae(m, name)
        if dim >= m.latent_dim:
            raise HTTPException(422, f"dim must be below the latent size {m.latent_dim}, got {dim}")
        return _respond(traverse_images(m, seed, dim, steps, span, label=label_of(m, cls)), format, steps)

    @app.post("/api/{name}/reconstruct")
    async def reconstruct(name: str, request: Request, cls: str | None = CLASS):
        """VAE: the request body is an image file (PNG/JPEG/...); returns [input, reconstruction] as a PNG.
        A conditional VAE needs the image's class."""
        m = get(name)
        need_vae(m, name)
        label = label_of(m, cls)
        if m.conditional and label is None:
            raise HTTPException(422, f"'{name}' is conditional: give the image's class, e.g. ?class=0")
        body = await request.body()
        if len(body) > MAX_UPLOAD:
            raise HTTPException(413, f"upload of {len(body)} bytes is over the {MAX_UPLOAD} byte limit")
        if not body:
            raise HTTPException(400, "empty body: send the image file's bytes")
        try:
            with Image.open(io.BytesIO(body)) as im:
                im.load()
                c, size, _ = m.shape
                im = square(im.convert("L" if c == 1 else "RGB"), size)
        except (UnidentifiedImageError, OSError) as e:
            raise HTTPException(400, f"not a readable image ({e})") from None
        arr = np.array(im, dtype=np.uint8).reshape(1, size, size, c)  # a writable copy for torch
        x = to_float(torch.from_numpy(arr).permute(0, 3, 1, 2)).to(m.device)
        with torch.no_grad():
            imgs = _nhwc(torch.cat([x, m.reconstruct(x, m.labels(1, label=label))]))
        return _respond(imgs, "png", 2)

    return app


def serve(runs: list[str | Path], host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn (blocking)."""
    import uvicorn

    uvicorn.run(create_app(runs), host=host, port=port)
