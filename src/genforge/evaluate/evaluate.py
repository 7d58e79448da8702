"""Evaluate samples against real data; every figure beside its real-data floor.

The reference is a random subset of the training split (n_real images). The
floor of a metric is the same metric with held-out real test images in place of
the samples (as many as there are samples, at most the test split): what a
perfect generator would score at this sample count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional, Sequence

import torch

from ..data.base import detect_modality
from ..errors import ConfigError, RunError
from ..io import write_json
from ..modalities import MODALITIES, Modality, modality_of
from ..run import load, read_status  # the run directory contract (shared utility)
from . import catalog  # noqa: F401  (registration of the metrics every modality shares)
from . import metrics as M
from .features import Extractor, get_extractor, modality_for
from .registry import METRICS, metrics_for

SAMPLE_SEED_OFFSET = 1000  # evaluation samples use seed + 1000, apart from the seeds users pick for grids


def eval_samples(model, n: int, seed: int = 0) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The n samples an evaluation of `model` uses: (stored form [n, ...] as a file of them reads back, labels [n]
    or None) on the CPU, reproducible by seed (the report regenerates them to show the memorization pairs)."""
    with torch.no_grad():
        x, y = model.sample_with_labels(n, seed=seed + SAMPLE_SEED_OFFSET)
    mod = modality_of(model)
    return mod.reread(mod.to_stored(x), model.codec), None if y is None else y.cpu()


def parse_metrics(spec: Optional[str | Sequence[str]], modality: str) -> tuple[str, ...]:
    """'fid,kid' -> ('fid', 'kid'); a figure's name stands for its metric ('recall' -> 'prdc',
    'distinct_2' -> 'distinct'); None -> every metric of the modality; unknown names are an error."""
    valid = metrics_for(modality)
    if spec is None:
        return tuple(valid)
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    by_figure = {f: m for m in valid for f in METRICS.get(m).figures}
    bad = [n for n in names if n not in valid and n not in by_figure]
    if bad:
        raise ConfigError(
            f"unknown metric(s) {', '.join(bad)} for {modality} data; expected some of: {', '.join(valid)}"
        )
    return tuple(dict.fromkeys(n if n in valid else by_figure[n] for n in names))


def subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """A seeded random subset of n rows (all of them when there are fewer)."""
    if n >= len(x):
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


@dataclass
class Side:
    """What metrics look at: stored samples (or held-out real items for a floor), with lazy views."""

    ctx: "Context"
    stored: torch.Tensor
    labels: Optional[torch.Tensor] = None

    @cached_property
    def _embedded(self):
        return self.ctx.ext.embed(self.stored)

    @property
    def features(self) -> torch.Tensor:
        return self._embedded[0]

    @property
    def probs(self) -> Optional[torch.Tensor]:
        return self._embedded[1]

    @cached_property
    def strings(self) -> list:
        return self.ctx.modality.to_samples(self.stored, self.ctx.data.codec)

    @cached_property
    def memo(self) -> torch.Tensor:
        return self.ctx.memo(self.stored)


@dataclass
class Context:
    """Everything the metrics share: the data, its extractor, the real reference features."""

    data: object
    ext: Extractor
    n_real: int
    seed: int
    draws: int
    floors: bool
    train_steps: Optional[int] = None  # steps of networks the metrics train (None: by data size)
    modality: Modality = field(init=False)
    cache: dict = field(init=False, default_factory=dict)  # references a metric builds once (a text lexicon)

    def __post_init__(self):
        self.modality = modality_for(self.data)

    def subset(self, x: torch.Tensor, n: int, offset: int = 1) -> torch.Tensor:
        return subset(x, n, self.seed + offset)

    def memo(self, stored: torch.Tensor) -> torch.Tensor:
        return self.modality.memo_vectors(stored, self.data.codec)

    @cached_property
    def real_f(self) -> torch.Tensor:
        return self.ext.features(subset(self.data.tensor("train"), self.n_real, self.seed))

    @cached_property
    def train_memo(self) -> torch.Tensor:
        return self.memo(self.data.tensor("train"))

    @cached_property
    def threshold(self) -> float:
        # calibrated on one half of the test split; the memorization floor uses the other half
        return M.held_out_threshold(self.memo, self.data.tensor("test"), self.train_memo)


def _runnable(name: str, side: Side) -> bool:
    """Whether metric `name` has what it needs for this side (labels, probabilities)."""
    metric = METRICS.get(name)
    if metric.fn is None or ("labels" in metric.needs and side.labels is None):
        return False  # figures of the model, not of samples (evaluate_run)
    needs = metric.needs
    return "probs" not in needs or side.ctx.ext.head is not None


def _figures(ctx: Context, side: Side, names: Sequence[str]) -> dict:
    out: dict = {}
    for name in names:
        if _runnable(name, side):
            out |= METRICS.get(name).fn(ctx, side)
    return out


def evaluate_samples(
    fake: torch.Tensor,
    data,
    extractor: Extractor,
    metrics: Optional[Sequence[str]] = None,
    n_real: int = 10_000,
    floors: bool = True,
    draws: int = 10,
    seed: int = 0,
    fake_labels: Optional[torch.Tensor] = None,
    train_steps: Optional[int] = None,
) -> dict:
    """Metrics of stored samples [N, ...] against `data`, with floors; the eval.json shape.

    `class_agreement` and `usefulness` run only for labelled samples (`fake_labels`) of labelled data;
    `train_steps` sets the steps of networks that metrics train (reverse perplexity, usefulness), None scales them
    with N."""
    t0 = time.perf_counter()
    mod = modality_for(data)
    names = parse_metrics(metrics, mod.name)
    want = tuple(data.tensor("test").shape[1:])
    if tuple(fake.shape[1:]) != want:
        raise ConfigError(f"samples are shaped {tuple(fake.shape[1:])} but the data's {mod.units} are {want}")
    if len(fake) < 10:
        raise ConfigError(
            f"{len(fake)} samples are too few to evaluate; use at least 10 "
            f"({mod.default_samples:,} for comparable figures)"
        )
    if fake_labels is not None and (data.n_classes < 2 or len(fake_labels) != len(fake)):
        raise ConfigError(
            f"sample labels need labelled data and one label per sample; got {len(fake_labels)} "
            f"labels for {len(fake)} samples of {data.name} ({data.n_classes} classes)"
        )
    ctx = Context(data, extractor, n_real, seed, draws, floors, train_steps)
    result = _figures(ctx, Side(ctx, fake, fake_labels), names)
    for m in result.values():
        m.setdefault("n", len(fake))  # FID and friends are biased by N: every figure says its N
    n_floor = None
    if floors:
        test = data.tensor("test")
        floor_side = Side(
            ctx,
            ctx.subset(test, len(fake)),  # as many held-out items as samples (at most all)
            None if fake_labels is None or data.test_labels is None else ctx.subset(data.labels("test"), len(fake)),
        )
        n_floor = len(floor_side.stored)
        floor = _figures(ctx, floor_side, [n for n in names if METRICS.get(n).floor])
        for k, v in floor.items():
            result[k]["floor"] = v["value"]
            result[k]["floor_interval"] = v.get("interval")
    return {
        "metrics": result,
        "n_fake": len(fake),
        "n_real": len(ctx.real_f) if any("features" in METRICS.get(n).needs for n in names) else None,
        "n_floor": n_floor,
        "extractor": extractor.describe(),
        "data": {"name": data.name, "fingerprint": data.fingerprint, "modality": mod.name},
        "seconds": round(time.perf_counter() - t0, 2),
    }


def evaluate_run(
    run: str | Path,
    n_samples: Optional[int] = None,
    metrics: Optional[Sequence[str]] = None,
    extractor_path: Optional[str] = None,
    iwae_k: int = 32,
    n_test_vae: int = 2000,
    seed: int = 0,
    device: str = "cpu",
    log=print,
    write: bool = True,
    extractor_steps: Optional[int] = None,
) -> dict:
    """Sample a trained run and evaluate it (n_samples: the modality's default); writes RUN/eval.json.
    Families with the `likelihood` ability add their held-out likelihood figures."""
    model = load(run, device)
    status = read_status(run)
    if status["state"] == "training":  # the weights are a checkpoint: what training ends with may differ
        log(
            f"warning: {run} is still training (step {status.get('step')}); this scores its last checkpoint, "
            "not the finished model (a family may change its sampling when training ends)"
        )
    mod = modality_of(model)
    data = mod.load(model.run_config.data, Path(run))
    if data.fingerprint != model.dataset_info.get("fingerprint"):
        log(
            f"warning: {model.run_config.data.source} has changed since training (fingerprint "
            f"{data.fingerprint} != {model.dataset_info.get('fingerprint')})"
        )
    names = parse_metrics(metrics, mod.name)
    ext = get_extractor(data, path=extractor_path, steps=extractor_steps, log=log)
    fake, labels = eval_samples(model, n_samples or mod.default_samples, seed)
    result = evaluate_samples(fake, data, ext, names, seed=seed, fake_labels=labels, train_steps=extractor_steps)
    likelihood = [n for n in names if "likelihood" in METRICS.get(n).needs]
    if "likelihood" in model.abilities and likelihood:
        test_labels = subset(data.labels("test"), n_test_vae, seed) if model.conditional else None
        figs = model.extra_figures(subset(data.tensor("test"), n_test_vae, seed), test_labels, k=iwae_k, seed=seed)
        result["metrics"] |= {k: v for k, v in figs.items() if k in likelihood}
    if "reconstruction_accuracy" in names and "reconstruct" in model.abilities and data.n_classes >= 2:
        result["metrics"] |= reconstruction_accuracy(model, data, ext, n_test_vae, seed)
    result["metrics"] |= model.own_figures(data, ext, names, seed=seed)
    result["run"], result["seed"] = str(run), seed  # eval_samples(model, n_fake, seed) redraws them
    if write:
        write_json(Path(run) / "eval.json", result)
    return result


@torch.no_grad()
def reconstruction_accuracy(model, data, ext: Extractor, n: int, seed: int, batch_size: int = 500) -> dict:
    """The classifier's accuracy on reconstructions of n held-out items, with its accuracy on the originals as
    the floor (a reconstruction that keeps what the item is scores as its original); {} without a classifier."""
    mod = modality_for(data)
    test, labels = subset(data.tensor("test"), n, seed), subset(data.labels("test"), n, seed)
    model.eval()
    recon = []
    for x, y in zip(test.split(batch_size), labels.split(batch_size)):
        y = y.to(model.device) if model.conditional else None
        recon.append(mod.to_stored(model.reconstruct(mod.to_model(x).to(model.device), y)).cpu())
    (_, p_recon), (_, p_test) = ext.embed(torch.cat(recon)), ext.embed(test)
    if p_recon is None:
        return {}
    floor = M.class_agreement(p_test, labels)["value"]
    return {"reconstruction_accuracy": M.class_agreement(p_recon, labels) | {"floor": floor, "n": len(test)}}


def evaluate_files(
    real: str,
    fake_path: str | Path,
    metrics=None,
    extractor_path=None,
    seed: int = 0,
    out: Optional[str | Path] = None,
    log=print,
    extractor_steps: Optional[int] = None,
) -> dict:
    """Evaluate any samples file against any data source: images from .npz (`images`, optional `labels`)
    or .npy; text from .txt (one sample a line) or .jsonl (`text`, optional `label`)."""
    mod = MODALITIES.get(detect_modality(real))
    data = mod.load(mod.DataConfig(source=real))
    path = Path(fake_path)
    if not path.is_file():
        raise RunError(f"--fake {path}: no such file (expected {mod.out_help})")
    fake, labels = mod.read(path, data)
    ext = get_extractor(data, path=extractor_path, steps=extractor_steps, log=log)
    result = evaluate_samples(fake, data, ext, parse_metrics(metrics, mod.name), seed=seed, fake_labels=labels)
    result["fake"] = str(path)
    if out:
        write_json(out, result)
    return result


TRAINING_METRICS = ("fid", "fd", "kid", "prdc")  # the cheap ones


def training_hook(
    data,
    n_samples: int = 2000,
    metrics: Optional[Sequence[str]] = None,
    extractor_path: Optional[str] = None,
    log=print,
):
    """fn(trainer) -> {metric: value}: the same figures during training (no floors, for speed).
    The extractor is trained (or read from cache) now, before training starts."""
    ext = get_extractor(data, path=extractor_path, log=log)
    mod = modality_for(data)
    names = parse_metrics(metrics or [m for m in TRAINING_METRICS if m in metrics_for(mod.name)], mod.name)

    def fn(trainer) -> dict:
        fake, _ = eval_samples(trainer.model, n_samples)
        res = evaluate_samples(fake, data, ext, names, n_real=n_samples, floors=False, draws=3)
        return {f"eval/{k}": v["value"] for k, v in res["metrics"].items()} | {"eval/n_fake": n_samples}

    return fn


def format_eval(result: dict) -> str:
    """A table: metric, value, interval, real-data floor."""
    lines = [f"{'metric':<20}{'value':>12}  {'interval':<24}{'floor':>12}", "-" * 70]
    for name, m in result["metrics"].items():
        v = m.get("value")
        iv = m.get("interval")
        ivs = f"[{iv[0]:.4g}, {iv[1]:.4g}]" if iv else ""
        fl = m.get("floor")
        lines.append(f"{name:<20}{v:>12.4g}  {ivs:<24}{'' if fl is None else f'{fl:>12.4g}'}")
        if "note" in m:
            lines.append(f"{'':<20}{m['note']}")
    lines.append(
        f"n_fake {result['n_fake']}, n_real {result.get('n_real')}, n_floor {result.get('n_floor')}; "
        f"extractor {result['extractor']['kind']} {result['extractor']['fingerprint']}; "
        f"data {result['data']['name']} {result['data']['fingerprint']}; {result['seconds']} s"
    )
    return "\n".join(lines)
