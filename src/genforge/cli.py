"""The `genforge` command line: a thin layer over functions the tests call too."""

from __future__ import annotations

import json
import random
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
import yaml

from .errors import ConfigError, GenforgeError, Interrupted
from .limits import MAX_FPS, MIN_FPS
from .modalities.manifest import manifests
from .version import __version__

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Train GANs and VAEs on your own data, generate, export."
)
data_app = typer.Typer(no_args_is_help=True, help="Look at a data set before training on it.")
app.add_typer(data_app, name="data")

# Every list below comes from the modalities' manifests (no torch is imported to print help).
_M = manifests().values()
DATA_HELP = "data source (default: the modality's own: " + ", ".join(f"{m.default_data} for {m.name}" for m in _M) + ")"
SOURCE_HELP = (
    "a built-in set ("
    + ", ".join(d for m in _M for d in m.data_sets)
    + ") or a path: "
    + "; ".join(f"{m.paths} ({m.name})" for m in _M)
)
FAMILY_HELP = "model family: " + "; ".join(f"{', '.join(m.families)} ({m.name})" for m in _M)
AUTO_HELP = f"{FAMILY_HELP}; auto: the family measured best for the data's modality and the budget (`genforge models`)"
MODALITY_HELP = ", ".join(f"{m.name} ({m.summary})" for m in _M) + " (default: the one whose sources recognise SOURCE)"
OUT_HELP = "; ".join(f"{m.name} runs: {m.outputs}" for m in _M)


def _version(show: bool) -> None:
    if show:
        typer.echo(f"genforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
):
    """Train GANs and VAEs on your own data, generate, export."""


class Mode(str, Enum):
    prior = "prior"
    interpolate = "interpolate"
    reconstruct = "reconstruct"
    manifold = "manifold"
    held_out = "held-out"
    animate = "animate"


@data_app.command("inspect")
def data_inspect(
    source: str = typer.Argument(..., help=SOURCE_HELP),
    modality: Optional[str] = typer.Option(None, help=MODALITY_HELP),
    set_: List[str] = typer.Option(
        [], "--set", help="data options, e.g. --set data.resolution=32 or data.max_tokens=64"
    ),
    strict: bool = typer.Option(False, help="unreadable files (or lines) are an error"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
):
    """Counts, shapes, lengths, classes, unreadable inputs and duplicates of a data set."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .data.inspect import inspect_data

    rep, text = inspect_data(source, modality, set_, strict)
    typer.echo(json.dumps(rep, indent=2, ensure_ascii=False) if as_json else text)


@app.command()
def train(
    model: str = typer.Option("auto", help=AUTO_HELP),
    preset: Optional[str] = typer.Option(None, help="named configuration of the family, e.g. article"),
    data: Optional[str] = typer.Option(None, help=DATA_HELP),
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
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .config import load_yaml, parse_set
    from .run import auto_family, read_config, resolve_config
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
        if model == "auto":  # the data named by --data, a --set item or the config file decides
            named = data or parse_set(list(set_)).get("data", {}).get("source")
            named = named or ((load_yaml(config).get("data") or {}).get("source") if config else None)
            model, why = auto_family(named, minutes)
            overrides["picked"] = why
            typer.echo(f"--model auto: {why}")
        cfg = resolve_config(model, preset, config, set_, overrides, log=typer.echo)
        run = out or Path("runs") / f"{cfg.family}-{Path(cfg.data.source).name}"
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .modalities import modality_of
    from .models import FAMILIES
    from .train import Hook
    from .train.distributed import is_main_process

    data_set = modality_of(FAMILIES.get(cfg.family)).load(cfg.data, resume)
    hooks = ()
    if eval_every:
        # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
        from .evaluate import training_hook

        hooks = (Hook(eval_every, training_hook(data_set, eval_samples)),)
    step = run_train(cfg, run, data=data_set, resume=bool(resume), progress=progress, hooks=hooks)
    if is_main_process():  # under torchrun, one process reports
        typer.echo(f"trained {cfg.family} ({cfg.preset}) to step {step}: {run}")
        typer.echo(f"sample grids: {run / 'samples'}")


def _merge_all(base: dict, over: dict) -> dict:
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .config import deep_merge

    base = {k: v for k, v in base.items() if k not in ("family", "preset")}
    return deep_merge(base, over)


@app.command()
def sample(
    run: Path = typer.Argument(..., help="run directory"),
    n: Optional[int] = typer.Option(None, "-n", help="number of samples (64); with --input, answers a question (1)"),
    out: Optional[Path] = typer.Option(None, help=OUT_HELP),
    seed: int = typer.Option(0, help="same seed, same samples"),
    input_: Optional[Path] = typer.Option(
        None, "--input", help="dialog models: a file of questions, one a line, each answered -n times"
    ),
    mode: Mode = typer.Option(
        Mode.prior,
        help="prior | interpolate (seed -> seed_b, or --between A --between B) | reconstruct | manifold (2-D latent)"
        " | held-out (pix2pix, cyclegan: held-out items and what the model makes of them, n to a row)"
        " | animate (image models: n looping walks through the latent space, per class if conditional; .gif)",
    ),
    frames: int = typer.Option(12, help="animate: frames from one point of a walk to the next"),
    points: int = typer.Option(4, help="animate: latent points a walk passes through before it loops"),
    fps: float = typer.Option(12.0, min=MIN_FPS, max=MAX_FPS, help="animate: frames per second of the file"),
    seed_b: int = typer.Option(1, help="end seed of an interpolation"),
    between: List[str] = typer.Option(
        [], help="interpolate between two inputs: sentences (text), image, audio or MIDI files"
    ),
    class_: Optional[str] = typer.Option(
        None, "--class", help="conditional models: class name or index (default: the data's class mix)"
    ),
    prompt: Optional[str] = typer.Option(None, help="text-to-image models: what to draw, e.g. 'a dark ankle boot'"),
    voice: List[str] = typer.Option(
        [],
        help="voice models: 'new' (a voice no training speaker has), a training speaker's name; twice with "
        "--mode interpolate",
    ),
    voice_from: List[Path] = typer.Option([], help="voice models: the voice of these recordings (a few seconds)"),
    temperature: Optional[float] = typer.Option(None, help="text: sampling temperature (0 = greedy)"),
    top_p: Optional[float] = typer.Option(None, help="text: nucleus sampling mass"),
    set_: List[str] = typer.Option([], "--set", help="sampling options of the model, e.g. --set model.temperature=0.8"),
    allow_copies: bool = typer.Option(
        False, "--allow-copies", help="keep near copies of training items (by default they are drawn again)"
    ),
    no_text_filter: bool = typer.Option(
        False, "--no-text-filter", help="text: keep what the offensive-language screen flags (default: redrawn)"
    ),
    block_list: Optional[Path] = typer.Option(None, help="text: a file of words to hold back, one a line"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
):
    """Generate from a trained run; a .npz or .jsonl of a conditional model carries the labels. Every file is
    signed (C2PA) and fingerprinted in RUN/generations.jsonl; `genforge verify` reads both."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .modalities import modality_of
    from .run import load
    from .safety.guard import guard_note
    from .sample import animate, class_index, write_animation, write_samples
    from .sample.modes import draw
    from .sample.sampling import set_options

    m = load(run, device)
    set_options(m, set_, temperature=temperature, top_p=top_p)
    label = class_index(m, class_)
    if input_ is not None or voice or voice_from:
        screen = not no_text_filter
        samples, labels, info, default, what = _given(
            m, input_, voice, voice_from, n, seed, label, mode, allow_copies, screen
        )
        path = write_samples(m, samples, out or default, None, labels, **info)
        typer.echo(f"wrote {len(samples)} {what} to {path}{guard_note(info['guards'])}")
        return
    n = 64 if n is None else n
    if mode is Mode.animate:
        clips, labels, nrow = animate(m, n, frames, points, seed, label, fps)
        path = write_animation(m, clips, out or Path("walk.gif"), nrow, labels)
        typer.echo(f"wrote {len(clips)} looping walk(s) of {clips.frames.shape[1]} frames to {path}")
        return
    guards = {"allow_copies": allow_copies, "screen": not no_text_filter, "block_list": block_list}
    samples, labels, nrow, info = draw(m, mode.value, n, seed, seed_b, between, label, prompt, guards)
    path = write_samples(m, samples, out or Path(f"samples{modality_of(m).preview_suffix}"), nrow, labels, **info)
    typer.echo(f"wrote {len(samples)} samples to {path}{guard_note(info.get('guards'))}")


def _given(m, input_, voice, voice_from, n, seed, label, mode, allow_copies: bool, screen: bool):
    """`sample`'s draws from what a user gives: answers to a file of questions (dialog models) or clips in the voices
    asked for (voice models). Returns (samples, labels, provenance, the default --out, what they are)."""
    if input_ is not None:
        from .sample.answers import answer_pairs, read_questions  # deferred: as above; dialog runs alone need it

        samples, labels, report, _ = answer_pairs(m, read_questions(input_), n or 1, seed, label, allow_copies, screen)
        return (
            samples,
            labels,
            {"seed": seed, "mode": "answer", "guards": report.as_dict()},
            Path("answers.jsonl"),
            "answers",
        )
    from .sample.voices import file_blobs, voice_samples  # deferred: as above; voice runs alone need it

    blobs = file_blobs(voice_from, "--voice-from")
    samples, labels, report = voice_samples(
        m, 64 if n is None else n, seed, label, voice, blobs, mode.value, allow_copies
    )
    return (
        samples,
        labels,
        {"seed": seed, "mode": f"voice {mode.value}", "guards": report.as_dict()},
        Path("voices"),
        "clips",
    )


@app.command()
def convert(
    run: Path = typer.Argument(..., help="run directory of a voice model (voice-vae)"),
    input_: Path = typer.Option(..., "--input", help="an audio file or a folder of them"),
    out: Path = typer.Option(..., help="a .wav for one input, else a folder (a WAV of each input's name)"),
    voice: Optional[str] = typer.Option(None, help="a training speaker's name"),
    voice_from: List[Path] = typer.Option([], help="recordings of the voice to speak in (a few seconds)"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
):
    """Say what the input clips say in another voice."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .run import load
    from .sample.voices import convert_file

    written = convert_file(load(run, device), input_, out, voice, voice_from)
    typer.echo(f"wrote {len(written)} converted clip(s): {written[0] if len(written) == 1 else out}")


@app.command()
def answer(
    run: Path = typer.Argument(..., help="run directory of a dialog model (dialog-cvae, dialog-gan)"),
    questions: List[str] = typer.Argument(..., help="one or more questions"),
    n: int = typer.Option(5, "-n", help="answers a question"),
    seed: int = typer.Option(0, help="same seed, same answers"),
    class_: Optional[str] = typer.Option(
        None, "--class", help="conditional models: the category (persona) to answer as"
    ),
    temperature: Optional[float] = typer.Option(None, help="sampling temperature (0 = greedy)"),
    top_p: Optional[float] = typer.Option(None, help="nucleus sampling mass"),
    as_json: bool = typer.Option(False, "--json", help='{"question": ..., "answers": [...]} a line'),
    allow_copies: bool = typer.Option(
        False, "--allow-copies", help="keep near copies of training answers (by default they are drawn again)"
    ),
    no_text_filter: bool = typer.Option(
        False, "--no-text-filter", help="keep what the offensive-language screen flags (default: drawn again)"
    ),
    device: str = typer.Option("cpu", help="cpu or cuda"),
):
    """Answer questions with a trained dialog model: n different answers each."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .run import load
    from .sample import class_index
    from .sample.answers import answers
    from .sample.sampling import set_options

    m = load(run, device)
    set_options(m, [], temperature=temperature, top_p=top_p)
    guards = {"allow_copies": allow_copies, "screen": not no_text_filter}
    for row in answers(m, questions, n, seed, class_index(m, class_), **guards):
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            typer.echo(f"Q: {row['question']}" + "".join(f"\n  {i + 1}. {a}" for i, a in enumerate(row["answers"])))


@app.command()
def verify(
    files: List[Path] = typer.Argument(..., help="files to check (images, clips, audio, MIDI, text)"),
    runs: Path = typer.Option(Path("runs"), help="folder of runs whose generation logs are searched"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object a file instead of a line"),
):
    """For each file: whether it carries a valid genforge manifest (C2PA, embedded or FILE.c2pa) and which run's
    generation log holds it, by robust fingerprints that survive re-encoding and resizing. Exit 1 when a file
    is neither signed nor found in a log."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .safety.verify import verify as do_verify

    verdicts = do_verify(files, runs)
    for v in verdicts:
        typer.echo(json.dumps(v.as_dict()) if as_json else v.line())
    if any(v.manifest != "valid" and not v.recognised for v in verdicts):
        raise typer.Exit(1)


@app.command()
def export(
    run: Path = typer.Argument(..., help="run directory"),
    format: str = typer.Option("onnx", help="onnx or torchscript"),
    out: Optional[Path] = typer.Option(None, help="output file (default RUN/generator.onnx or .pt)"),
):
    """Export the generator (GAN) or decoder (VAE): images: latents [N, D] -> images [N, C, H, W] in [-1, 1];
    text: one decoder step, with the tokenizer beside it."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .run import load
    from .sample import FORMATS
    from .sample import export as do_export

    path = out or run / f"generator{FORMATS.get(format, '')}"
    typer.echo(f"wrote {do_export(load(run), format, path)}")


@app.command()
def evaluate(
    run: Optional[Path] = typer.Argument(None, help="run directory (writes RUN/eval.json)"),
    samples: Optional[int] = typer.Option(
        None, "--samples", help="samples to draw from the run (default: 10,000 images or 2,000 texts)"
    ),
    metrics: Optional[str] = typer.Option(
        None, help="comma-separated subset of the modality's metrics (default all; `genforge metrics` lists them)"
    ),
    real: Optional[str] = typer.Option(None, help="with --fake: the real data source to compare with"),
    fake: Optional[Path] = typer.Option(
        None,
        help="a samples file to evaluate instead of a run, as `genforge sample` writes it: " + OUT_HELP,
    ),
    out: Optional[Path] = typer.Option(None, help="where to write eval.json (with --fake)"),
    extractor: Optional[Path] = typer.Option(
        None, help="a TorchScript feature network to use instead of the trained one"
    ),
    iwae_k: int = typer.Option(32, help="VAE: importance samples of the NLL bound"),
    extractor_steps: Optional[int] = typer.Option(
        None, help="training steps of the feature extractor and of evaluation LMs (default: by data size)"
    ),
    seed: int = typer.Option(0, help="seed of sampling, subsets and bootstrap"),
):
    """Fidelity, diversity, memorization (and VAE likelihood) figures, each beside its real-data floor; a run's
    model card (RUN/README.md) is refreshed with them."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .evaluate import evaluate_files, evaluate_run, format_eval
    from .safety.card import write_card

    ext = str(extractor) if extractor else None
    if fake is not None:
        if not real:
            raise ConfigError("--fake needs --real SOURCE (e.g. --real fashion-mnist)")
        result = evaluate_files(real, fake, metrics, ext, seed, out, extractor_steps=extractor_steps)
    elif run is not None:
        result = evaluate_run(run, samples, metrics, ext, iwae_k, seed=seed, extractor_steps=extractor_steps)
        out = run / "eval.json"
        write_card(run)  # the model card's evaluation and memorization audit, refreshed
    else:
        raise ConfigError("give a run directory, or --real SOURCE --fake samples.npz")
    typer.echo(format_eval(result))
    if out:
        typer.echo(f"wrote {out}")


@app.command("metrics")
def list_metrics():
    """Every registered metric: name, modalities, which direction is better, what it measures."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .evaluate import catalog as _  # noqa: F401  (registration)
    from .evaluate.registry import catalog

    typer.echo(catalog())


@app.command()
def tune(
    model: str = typer.Option("dcgan", help=FAMILY_HELP),
    data: Optional[str] = typer.Option(None, help=DATA_HELP),
    study: str = typer.Option(..., help="study name; the same name resumes it"),
    objective: Optional[str] = typer.Option(
        None,
        help="figure to minimise: fid (images), fd (text, audio), kid, nll_iw, "
        "perplexity, ... (default: the modality's Frechet distance)",
    ),
    trials: int = typer.Option(20, help="stop rule: trials in the study (finished, pruned or failed)"),
    minutes_per_trial: Optional[float] = typer.Option(None, help="fixed budget of each trial, in minutes"),
    steps_per_trial: Optional[int] = typer.Option(None, help="fixed budget of each trial, in steps"),
    storage: Optional[str] = typer.Option(
        None, help="SQLAlchemy URL (default sqlite in OUT/<study>/study.db; postgresql://... for many workers)"
    ),
    space: Optional[Path] = typer.Option(None, help="YAML search space (default: the family's)"),
    out: Path = typer.Option(Path("runs"), help="folder of study folders"),
    eval_every: Optional[int] = typer.Option(None, help="report FID every N steps so the pruner can stop weak trials"),
    eval_samples: int = typer.Option(2000, help="samples per FID"),
    target: Optional[float] = typer.Option(None, help="stop rule: stop once a trial's FID is at or below this"),
    plateau: Optional[int] = typer.Option(
        None, help="stop rule: stop when K trials in a row gain less than the FID noise"
    ),
    max_minutes: Optional[float] = typer.Option(None, help="stop rule: total minutes of this invocation"),
    confirm_seeds: int = typer.Option(3, help="seeds that confirm the best configuration"),
    final_minutes: Optional[float] = typer.Option(
        None, help="budget of the best configuration's final run, in minutes (default: the trial budget)"
    ),
    final_steps: Optional[int] = typer.Option(None, help="budget of the final run, in steps"),
    set_: List[str] = typer.Option([], "--set", help="fixed overrides for every trial"),
    resume: bool = typer.Option(False, help="accepted for clarity: a study with this name always continues"),
    heartbeat: int = typer.Option(
        10, min=1, help="seconds between a trial's heartbeats; a trial silent for twice that is failed and retried"
    ),
    workers: int = typer.Option(
        1, min=1, help="worker processes on this machine (needs --storage postgresql+psycopg://... or journal:FILE)"
    ),
    join: bool = typer.Option(False, help="only add a worker to an existing study (from any machine); no final run"),
    worker_id: Optional[int] = typer.Option(None, help="with --join: this worker's number (seeds its sampler)"),
    extractor_steps: Optional[int] = typer.Option(
        None, help="training steps of the feature extractor (default: by data size; every worker must agree)"
    ),
):
    """Tune hyperparameters with Optuna (TPE, median pruning), then confirm and train the best."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .config import validate
    from .modalities import modality_of
    from .models import FAMILIES
    from .tune import tune as run_tune

    final = None
    if final_minutes is not None or final_steps is not None:
        final = {"minutes": final_minutes, "steps": final_steps, "epochs": None}
    data_cls = modality_of(FAMILIES.get(model)).DataConfig
    summary = run_tune(
        model, validate(data_cls, {"source": data or data_cls().source}), trials, study, storage, minutes_per_trial,
        steps_per_trial, str(space) if space else None, out, eval_samples, eval_every, target, plateau, max_minutes,
        confirm_seeds, tuple(set_), final_budget=final, objective=objective, heartbeat=heartbeat, workers=workers,
        join=join, extractor_steps=extractor_steps,
        worker_id=worker_id if worker_id is not None else random.randrange(1, 10**6),
    )  # fmt: skip
    typer.echo(tune_outcome(summary, out / study / "study.json"))


def tune_outcome(summary: dict, path: Path) -> str:
    """What `genforge tune` prints when it ends: a joined worker's count, or the best trial and model."""
    if summary.get("joined"):
        return f"worker done: {summary['trials_run']} trial(s) of study '{summary['study']}' run here"
    b, c = summary["best"], summary["confirmation"]
    return (
        f"best trial {b['number']}: {summary['objective']} {b['value']:.4g} ({', '.join(b['sets'])}); over seeds "
        f"{c['mean']:.4g} +- {c['std']:.2g}; stopped by {summary['stopped_by']}; {summary['minutes']} min\n"
        f"best model: {summary['final']['run']}; summary: {path}"
    )


@app.command()
def report(
    run: Path = typer.Argument(..., help="run directory"),
    out: Optional[Path] = typer.Option(None, help="output .html (default RUN/report.html)"),
):
    """Write a self-contained HTML report of a run or a tuning study folder (opens from disk, no network)."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .report import write_report

    typer.echo(f"wrote {write_report(run, out)}")


@app.command("demo")
def demo_cmd(
    data: Optional[str] = typer.Option(None, help="data source (default: fashion-mnist when installed, else digits)"),
    minutes: float = typer.Option(10.0, help="wall-clock budget of the whole demo"),
    out: Path = typer.Option(Path("runs/demo"), help="folder of the demo's runs"),
):
    """Good samples first: the family `--model auto` picks, then the article's DCGAN and VAE for comparison,
    grids, a report and a comparison page, within a time budget."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .demo import demo
    from .modalities.image.builtin import FASHION_MNIST_DIR

    demo(data or ("fashion-mnist" if FASHION_MNIST_DIR.is_dir() else "digits"), minutes, out)


@app.command("runs")
def list_runs(folder: Path = typer.Argument(Path("runs"), help="folder to search for run directories")):
    """A table of every run under a folder: family, preset, data, steps, status, headline figure, size."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .report.runs import runs_table

    typer.echo(runs_table(folder))


@app.command("compare")
def compare_cmd(
    runs: List[Path] = typer.Argument(..., help="two or more run directories"),
    out: Optional[Path] = typer.Option(None, help="output .html (default: compare.html beside the first run)"),
):
    """Runs side by side: config differences, eval figures with floors (best marked), curves, samples."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .report.compare import compare

    path, text = compare(runs, out)
    typer.echo(text)
    typer.echo(f"wrote {path}")


@app.command("serve")
def serve_cmd(
    runs: List[Path] = typer.Argument(
        ...,
        help="run directories, or folders of them (every run under each is served "
        "under its folder name, and watched while it trains)",
    ),
    host: str = typer.Option("127.0.0.1", help="address to bind; 127.0.0.1 keeps it on this machine"),
    port: int = typer.Option(8000, help="port"),
):
    """Serve trained models and watch runs train: an HTTP API (docs at /docs) and a page at /."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .serve import serve

    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"note: binding {host}: other machines can reach this server (it has no authentication)", err=True)

    serve(runs, host, port)


class Task(str, Enum):
    inpaint = "inpaint"
    superres = "superres"
    deblur = "deblur"
    denoise = "denoise"


@app.command()
def restore(
    run: Path = typer.Argument(..., help="run directory of an image GAN or VAE, or of a pix2pix model"),
    task: Task = typer.Option(
        ..., help="inpaint (fill missing pixels), superres (upscale); deblur, denoise (pix2pix runs trained for it)"
    ),
    input_: Path = typer.Option(..., "--input", help="an image file or a folder of them"),
    out: Path = typer.Option(..., help="folder for the restored PNGs (same names as the inputs)"),
    mask: Optional[Path] = typer.Option(None, help="inpaint: a mask image (white = missing) or a folder of them"),
    mask_box: Optional[str] = typer.Option(None, help="inpaint: the missing box x,y,width,height in pixels"),
    scale: int = typer.Option(4, help="superres: the upscaling factor (inputs are 1/scale of the model's size)"),
    class_: Optional[str] = typer.Option(None, "--class", help="conditional models: the images' class"),
    steps: int = typer.Option(300, min=1, help="optimisation steps of the latent"),
    restarts: int = typer.Option(8, min=1, help="random starts per image; the one that fits best is kept"),
    seed: int = typer.Option(0, help="seed of the starts"),
):
    """Repair images: any GAN or VAE by latent search (no new training), or a pix2pix model trained for the damage."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .restore import parse_box, restore_files

    box = None if mask_box is None else parse_box(mask_box)
    written = restore_files(
        run, task.value, input_, out, mask, box, scale, class_, steps=steps, restarts=restarts, seed=seed
    )
    typer.echo(f"restored {len(written)} image(s) into {out}")


class Direction(str, Enum):
    a2b = "a2b"
    b2a = "b2a"


@app.command()
def translate(
    run: Path = typer.Argument(..., help="run directory of a translation model (cyclegan)"),
    input_: Path = typer.Option(..., "--input", help="an image file or a folder of them (any size: resized, cropped)"),
    out: Path = typer.Option(..., help="folder for the translated PNGs (same names as the inputs)"),
    direction: Direction = typer.Option(Direction.a2b, help="a2b: inputs are domain A, made B; b2a the reverse"),
):
    """Translate images from one domain to the other with a CycleGAN run."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .run import load
    from .sample.translate import translate_files

    written = translate_files(load(run), input_, out, direction.value)
    typer.echo(f"translated {len(written)} image(s) ({direction.value}) into {out}")


@app.command("config")
def show_config(
    model: str = typer.Option("dcgan", help="model family"),
    preset: Optional[str] = typer.Option(None, help="preset"),
    reference: bool = typer.Option(False, help="print the Markdown reference of every key instead"),
):
    """Print the resolved config of a family and preset (YAML), or the key reference."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .docs import config_reference
    from .run import resolve_config

    if reference:
        typer.echo(config_reference())
    else:
        typer.echo(yaml.safe_dump(resolve_config(model, preset).model_dump(mode="json"), sort_keys=False))


@app.command("models")
def list_models():
    """Every model family: its modality, presets, abilities, and the preset a time budget picks."""
    # deferred: each command imports only what it runs (the CLI starts in a fraction of a second)
    from .docs import families_table

    typer.echo(families_table())


def main() -> None:
    """The console entry: exit status 0 done, 1 a failure, 2 a usage error (a bad key, value or argument),
    130 stopped by Ctrl-C; a genforge error prints one line, never a traceback."""
    try:
        code = app(standalone_mode=False)  # returns the exit status of --help and --version
    except typer.Exit as e:
        code = e.exit_code
    except (Interrupted, typer.Abort, KeyboardInterrupt) as e:
        typer.echo(str(e) or "stopped", err=True)
        sys.exit(130)
    except typer.TyperException as e:  # the command line's own usage errors (exit status 2) and file errors
        e.show()
        sys.exit(e.exit_code)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except GenforgeError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
