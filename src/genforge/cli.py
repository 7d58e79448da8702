"""The `genforge` command line: a thin layer over functions the tests call too."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .errors import GenforgeError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train GANs and VAEs on your own data, generate, export.")
data_app = typer.Typer(no_args_is_help=True, help="Look at a data set before training on it.")
app.add_typer(data_app, name="data")


class Mode(str, Enum):
    prior = "prior"
    interpolate = "interpolate"
    reconstruct = "reconstruct"
    manifold = "manifold"


@data_app.command("inspect")
def data_inspect(
    source: str = typer.Argument(..., help="digits, fashion-mnist, or a path (image folder, IDX folder, .npz/.npy)"),
    resolution: Optional[int] = typer.Option(None, help="resize to this square size"),
    channels: Optional[int] = typer.Option(None, help="1 or 3"),
    strict: bool = typer.Option(False, help="unreadable files are an error"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
):
    """Counts, shapes, classes, unreadable files and duplicates of a data set."""
    from .config import DataConfig, validate
    from .data import data_report, format_report, load_data

    cfg = validate(DataConfig, {"source": source, "resolution": resolution, "channels": channels, "strict": strict})
    rep = data_report(load_data(cfg))
    typer.echo(json.dumps(rep, indent=2) if as_json else format_report(rep))


@app.command()
def train(
    model: str = typer.Option("dcgan", help="model family: dcgan or vae"),
    preset: Optional[str] = typer.Option(None, help="named configuration of the family, e.g. article"),
    data: Optional[str] = typer.Option(None, help="data source (default: digits)"),
    out: Optional[Path] = typer.Option(None, help="run directory to create (default runs/<model>-<data>)"),
    steps: Optional[int] = typer.Option(None, help="budget: optimizer steps"),
    epochs: Optional[float] = typer.Option(None, help="budget: passes over the training split"),
    minutes: Optional[float] = typer.Option(None, help="budget: wall-clock minutes"),
    config: Optional[Path] = typer.Option(None, help="YAML file with data/model/train sections"),
    set_: List[str] = typer.Option([], "--set", help="override one key, e.g. --set train.lr=2e-4 (repeatable)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda"),
    seed: Optional[int] = typer.Option(None, help="seed of weights, noise and data order"),
    resume: Optional[Path] = typer.Option(None, help="continue this run directory (budget flags may extend it)"),
    eval_every: Optional[int] = typer.Option(None, help="evaluate (FID, KID, PRDC) every N steps into metrics.jsonl"),
    eval_samples: int = typer.Option(2000, help="samples per evaluation during training"),
    progress: bool = typer.Option(True, help="show a progress bar"),
):
    """Train a model; Ctrl-C writes a checkpoint that --resume continues."""
    from .run import read_config, resolve_config
    from .train import train as run_train

    budget = {k: v for k, v in {"steps": steps, "epochs": epochs, "minutes": minutes}.items() if v is not None}
    if budget:  # a budget given on the command line replaces the config's budget
        budget = {"steps": None, "epochs": None, "minutes": None} | budget
    train_over = budget | {k: v for k, v in {"device": device, "seed": seed}.items() if v is not None}
    overrides = {"train": train_over} | ({"data": {"source": data}} if data else {})
    if resume:
        saved, _ = read_config(resume)
        base = saved.model_dump(mode="json")
        cfg = resolve_config(saved.family, saved.preset, None, set_, _merge_all(base, overrides))
        run = resume
    else:
        cfg = resolve_config(model, preset, config, set_, overrides)
        run = out or Path("runs") / f"{cfg.family}-{Path(cfg.data.source).name}"
    from .data import load_data
    from .train import Hook

    data_set = load_data(cfg.data)
    hooks = ()
    if eval_every:
        from .evaluate import training_hook

        hooks = (Hook(eval_every, training_hook(data_set, eval_samples)),)
    step = run_train(cfg, run, data=data_set, resume=bool(resume), progress=progress, hooks=hooks)
    typer.echo(f"trained {cfg.family} ({cfg.preset}) to step {step}: {run}")
    typer.echo(f"sample grids: {run / 'samples'}")


def _merge_all(base: dict, over: dict) -> dict:
    from .config import deep_merge

    base = {k: v for k, v in base.items() if k not in ("family", "preset")}
    return deep_merge(base, over)


@app.command()
def sample(
    run: Path = typer.Argument(..., help="run directory"),
    n: int = typer.Option(64, "-n", help="number of images"),
    out: Path = typer.Option(Path("samples.png"), help=".png grid, .npz (images uint8 NHWC) or a folder"),
    seed: int = typer.Option(0, help="same seed, same images"),
    mode: Mode = typer.Option(Mode.prior, help="prior | interpolate (seed -> seed_b) | reconstruct (VAE) | manifold (VAE, 2-D latent)"),
    seed_b: int = typer.Option(1, help="end seed of an interpolation"),
    class_: Optional[str] = typer.Option(None, "--class", help="conditional models: class name or index (default: the data's class mix)"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
):
    """Generate images from a trained run; a .npz of a conditional model carries `labels`."""
    from .run import load
    from .sample import class_index, interpolate, manifold, prior_samples, reconstructions, write_images

    m = load(run, device)
    label, labels = class_index(m, class_), None
    if mode is Mode.prior:
        (imgs, labels), nrow = prior_samples(m, n, seed, label=label), None
    elif mode is Mode.interpolate:
        imgs, nrow = interpolate(m, seed, seed_b, n, label=label), n
    elif mode is Mode.reconstruct:
        imgs, nrow = reconstructions(m, n, seed), 16
    else:
        imgs = manifold(m, label=label)
        nrow = int(round(len(imgs) ** 0.5))
    typer.echo(f"wrote {len(imgs)} images to {write_images(imgs, out, nrow, labels)}")


@app.command()
def export(
    run: Path = typer.Argument(..., help="run directory"),
    format: str = typer.Option("onnx", help="onnx or torchscript"),
    out: Optional[Path] = typer.Option(None, help="output file (default RUN/generator.onnx or .pt)"),
):
    """Export the generator (GAN) or decoder (VAE): latents [N, D] -> images [N, C, H, W] in [-1, 1]."""
    from .run import load
    from .sample import FORMATS
    from .sample import export as do_export

    path = out or run / f"generator{FORMATS.get(format, '')}"
    typer.echo(f"wrote {do_export(load(run), format, path)}")


@app.command()
def evaluate(
    run: Optional[Path] = typer.Argument(None, help="run directory (writes RUN/eval.json)"),
    samples: int = typer.Option(10_000, "--samples", help="samples to draw from the run"),
    metrics: Optional[str] = typer.Option(None, help="comma-separated subset of fid,kid,prdc,classifier_score,class_histogram,memorization (default all)"),
    real: Optional[str] = typer.Option(None, help="with --fake: the real data source to compare with"),
    fake: Optional[Path] = typer.Option(None, help="a samples .npz (key images) or .npy to evaluate instead of a run"),
    out: Optional[Path] = typer.Option(None, help="where to write eval.json (with --fake)"),
    extractor: Optional[Path] = typer.Option(None, help="a TorchScript feature network to use instead of the trained one"),
    iwae_k: int = typer.Option(32, help="VAE: importance samples of the NLL bound"),
    extractor_steps: Optional[int] = typer.Option(None, help="training steps of the feature extractor (default: about 3 epochs)"),
    seed: int = typer.Option(0, help="seed of sampling, subsets and bootstrap"),
):
    """Fidelity, diversity, memorization (and VAE likelihood) figures, each beside its real-data floor."""
    from .errors import ConfigError
    from .evaluate import evaluate_files, evaluate_run, format_eval

    ext = str(extractor) if extractor else None
    if fake is not None:
        if not real:
            raise ConfigError("--fake needs --real SOURCE (e.g. --real fashion-mnist)")
        result = evaluate_files(real, fake, metrics, ext, seed, out, extractor_steps=extractor_steps)
    elif run is not None:
        result = evaluate_run(run, samples, metrics, ext, iwae_k, seed=seed, extractor_steps=extractor_steps)
        out = run / "eval.json"
    else:
        raise ConfigError("give a run directory, or --real SOURCE --fake samples.npz")
    typer.echo(format_eval(result))
    if out:
        typer.echo(f"wrote {out}")


@app.command()
def tune(
    model: str = typer.Option("dcgan", help="model family"),
    data: str = typer.Option("digits", help="data source"),
    study: str = typer.Option(..., help="study name; the same name resumes it"),
    trials: int = typer.Option(20, help="stop rule: trials in the study (finished, pruned or failed)"),
    minutes_per_trial: Optional[float] = typer.Option(None, help="fixed budget of each trial, in minutes"),
    steps_per_trial: Optional[int] = typer.Option(None, help="fixed budget of each trial, in steps"),
    storage: Optional[str] = typer.Option(None, help="SQLAlchemy URL (default sqlite in OUT/<study>/study.db; postgresql://... for many workers)"),
    space: Optional[Path] = typer.Option(None, help="YAML search space (default: the family's)"),
    out: Path = typer.Option(Path("runs"), help="folder of study folders"),
    eval_every: Optional[int] = typer.Option(None, help="report FID every N steps so the pruner can stop weak trials"),
    eval_samples: int = typer.Option(2000, help="samples per FID"),
    target: Optional[float] = typer.Option(None, help="stop rule: stop once a trial's FID is at or below this"),
    plateau: Optional[int] = typer.Option(None, help="stop rule: stop when K trials in a row gain less than the FID noise"),
    max_minutes: Optional[float] = typer.Option(None, help="stop rule: total minutes of this invocation"),
    confirm_seeds: int = typer.Option(3, help="seeds that confirm the best configuration"),
    final_minutes: Optional[float] = typer.Option(None, help="budget of the best configuration's final run, in minutes (default: the trial budget)"),
    final_steps: Optional[int] = typer.Option(None, help="budget of the final run, in steps"),
    set_: List[str] = typer.Option([], "--set", help="fixed overrides for every trial"),
    resume: bool = typer.Option(False, help="accepted for clarity: a study with this name always continues"),
):
    """Tune hyperparameters with Optuna (TPE, median pruning), then confirm and train the best."""
    from .config import DataConfig, validate
    from .tune import tune as run_tune

    final = None
    if final_minutes is not None or final_steps is not None:
        final = {"minutes": final_minutes, "steps": final_steps, "epochs": None}
    summary = run_tune(model, validate(DataConfig, {"source": data}), trials, study, storage, minutes_per_trial,
                       steps_per_trial, str(space) if space else None, out, eval_samples, eval_every, target, plateau,
                       max_minutes, confirm_seeds, tuple(set_), final_budget=final)
    b, c = summary["best"], summary["confirmation"]
    typer.echo(f"best trial {b['number']}: FID {b['value']:.4g} ({', '.join(b['sets'])}); over seeds "
               f"{c['mean']:.4g} +- {c['std']:.2g}; stopped by {summary['stopped_by']}; {summary['minutes']} min")
    typer.echo(f"best model: {summary['final']['run']}; summary: {out / study / 'study.json'}")


@app.command()
def report(
    run: Path = typer.Argument(..., help="run directory"),
    out: Optional[Path] = typer.Option(None, help="output .html (default RUN/report.html)"),
):
    """Write a self-contained HTML report of a run or a tuning study folder (opens from disk, no network)."""
    from .report import write_report

    typer.echo(f"wrote {write_report(run, out)}")


@app.command("serve")
def serve_cmd(
    runs: List[Path] = typer.Argument(..., help="run directories to serve (each under its folder name)"),
    host: str = typer.Option("127.0.0.1", help="address to bind; 127.0.0.1 keeps it on this machine"),
    port: int = typer.Option(8000, help="port"),
):
    """Serve trained models: an HTTP API (docs at /docs) and a page at /."""
    from .serve import serve

    serve(runs, host, port)


@app.command("config")
def show_config(
    model: str = typer.Option("dcgan", help="model family"),
    preset: Optional[str] = typer.Option(None, help="preset"),
    reference: bool = typer.Option(False, help="print the Markdown reference of every key instead"),
):
    """Print the resolved config of a family and preset (YAML), or the key reference."""
    import yaml

    from .docs import config_reference
    from .run import resolve_config

    if reference:
        typer.echo(config_reference())
    else:
        typer.echo(yaml.safe_dump(resolve_config(model, preset).model_dump(mode="json"), sort_keys=False))


def main() -> None:
    from .train import Interrupted

    try:
        app()
    except Interrupted as e:
        typer.echo(str(e), err=True)
        sys.exit(130)
    except GenforgeError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
