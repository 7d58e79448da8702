"""Run endpoints: every watched run's status, training records and newest preview; the served models."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from .common import Served, served

router = APIRouter(prefix="/api", tags=["runs and live view"])


@router.get("/runs")
def list_runs(runs: Served = Depends(served)):
    """Every watched run: family, preset, modality, status (training, finished, interrupted, diverged,
    failed, stopped), step, total, whether it has weights yet."""
    return [r.info() for r in runs.runs.values()]


@router.get("/{name}/metrics")
def metrics(
    name: str,
    since: int = Query(0, ge=0, description="first line of metrics.jsonl to send"),
    runs: Served = Depends(served),
):
    """Training records from line `since` on, and the `since` of the next poll."""
    run = runs.watched(name)
    return run.metrics(since) | {"status": run.info()}


@router.get("/{name}/preview")
def preview(name: str, runs: Served = Depends(served)):
    """The newest training preview, in the run's modality's form (a PNG grid for images, a text list for
    text, a WAV for audio); 404 before the first."""
    run = runs.watched(name)
    path = run.newest_preview()
    if path is None:
        raise HTTPException(404, f"'{name}' has no preview yet")
    return Response(
        path.read_bytes(), media_type=run.modality.preview_media, headers={"X-Step": path.stem.split("_")[-1]}
    )


@router.get("/models")
def list_models(runs: Served = Depends(served)):
    """Every served model with weights: family, modality, abilities, shape, latent size, classes, eval figures."""
    models = {n: r.model() for n, r in runs.runs.items()}
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
