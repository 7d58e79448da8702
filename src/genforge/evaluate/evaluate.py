"""Evaluate samples against real data; every figure beside its real-data floor.

The reference is a random subset of the training split (n_real images). The
floor of a metric is the same metric with held-out real test images in place of
the samples (as many as there are samples, at most the test split): what a
perfect generator would score at this sample count.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..data import ImageData, load_data, to_float, to_uint8
from ..errors import ConfigError, RunError
from ..io import write_json
from . import metrics as M
from .features import Extractor, get_extractor
from .likelihood import vae_figures
from .usefulness import usefulness

METRICS = ("fid", "kid", "prdc", "classifier_score", "class_histogram", "class_agreement", "memorization", "usefulness")


SAMPLE_SEED_OFFSET = 1000  # evaluation samples use seed + 1000, apart from the seeds users pick for grids


def eval_samples(model, n: int, seed: int = 0) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The n samples an evaluation of `model` uses: (uint8 [n, C, H, W], labels [n] or None) on the CPU,
    reproducible by seed (the report regenerates them to show the memorization pairs)."""
    with torch.no_grad():
        x, y = model.sample_with_labels(n, seed=seed + SAMPLE_SEED_OFFSET)
    return to_uint8(x).cpu(), None if y is None else y.cpu()


def parse_metrics(spec: Optional[str | Sequence[str]]) -> tuple[str, ...]:
    """'fid,kid' -> ('fid', 'kid'); None -> all; unknown names are an error."""
    if spec is None:
        return METRICS
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    bad = [n for n in names if n not in METRICS]
    if bad:
        raise ConfigError(f"unknown metric(s) {', '.join(bad)}; expected some of: {', '.join(METRICS)}")
    return tuple(names)


def _subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    if n >= len(x):
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


def _figures(fake: torch.Tensor, real_f: torch.Tensor, ext: Extractor, data: ImageData, train_px,
             threshold: float, names: tuple[str, ...], draws: int, seed: int,
             labels: Optional[torch.Tensor] = None) -> dict:
    """Every requested metric of uint8 images `fake` [N, C, H, W] (with their class labels, if any)."""
    out: dict = {}
    fake_f, probs = ext.embed(fake)
    if "fid" in names:
        out["fid"] = M.fid(real_f, fake_f, draws, seed)
    if "kid" in names:
        out["kid"] = M.kid(real_f, fake_f, seed=seed)
    if "prdc" in names:
        out |= M.prdc(real_f, fake_f, seed=seed)
    if probs is not None:
        if "classifier_score" in names:
            out["classifier_score"] = M.classifier_score(probs)
        if "class_histogram" in names:
            shares = np.bincount(data.train_labels, minlength=data.n_classes) / len(data.train_labels)
            out["class_histogram"] = M.class_histogram(probs, shares, data.class_names)
        if "class_agreement" in names and labels is not None:
            out["class_agreement"] = M.class_agreement(probs, labels)
    if "memorization" in names:
        out["near_copy_share"] = M.memorization(to_float(fake).flatten(1), train_px, threshold, seed=seed)
    return out


def evaluate_images(fake: torch.Tensor, data: ImageData, extractor: Extractor, metrics: Sequence[str] = METRICS,
                    n_real: int = 10_000, floors: bool = True, draws: int = 10, seed: int = 0,
                    fake_labels: Optional[torch.Tensor] = None) -> dict:
    """Metrics of uint8 samples [N, C, H, W] against `data`, with floors; the eval.json shape.

    `class_agreement` and `usefulness` run only for labelled samples (`fake_labels`) of labelled data."""
    t0 = time.perf_counter()
    names = parse_metrics(metrics)
    if tuple(fake.shape[1:]) != tuple(data.shape):
        raise ConfigError(f"samples are {tuple(fake.shape[1:])} (C, H, W) but the data is {data.shape}")
    if len(fake) < 10:
        raise ConfigError(f"{len(fake)} samples are too few to evaluate; use at least 10 (10,000 for comparable figures)")
    train, test = data.tensor("train"), data.tensor("test")
    real_f = extractor.features(_subset(train, n_real, seed))
    train_px = to_float(train).flatten(1)
    threshold = 0.0
    if "memorization" in names:
        # Calibrated on one half of the test split; the floor of this metric uses the other half.
        threshold = M.near_copy_threshold(to_float(test[0::2]).flatten(1), train_px)
    if fake_labels is not None and (data.n_classes < 2 or len(fake_labels) != len(fake)):
        raise ConfigError(f"sample labels need labelled data and one label per sample; got {len(fake_labels)} "
                          f"labels for {len(fake)} samples of {data.name} ({data.n_classes} classes)")
    result = _figures(fake, real_f, extractor, data, train_px, threshold, names, draws, seed, fake_labels)
    for m in result.values():
        m["n"] = len(fake)  # FID and friends are biased by N: every figure says its N
    n_floor = None
    if floors:
        floor_imgs = _subset(test, len(fake), seed + 1)  # as many real test images as samples (at most all)
        floor_labels = None  # the same subset's labels (same permutation)
        if fake_labels is not None and data.test_labels is not None:
            floor_labels = _subset(data.labels("test"), len(fake), seed + 1)
        n_floor = len(floor_imgs)
        floor = _figures(floor_imgs, real_f, extractor, data, train_px, threshold,
                         tuple(n for n in names if n != "memorization"), draws, seed, floor_labels)
        if "memorization" in names:
            floor["near_copy_share"] = M.memorization(to_float(_subset(test[1::2], len(fake), seed + 1)).flatten(1),
                                                      train_px, threshold, seed=seed)
        for k, v in floor.items():
            result[k]["floor"] = v["value"]
            result[k]["floor_interval"] = v.get("interval")
    if "usefulness" in names and fake_labels is not None:
        result["usefulness"] = usefulness(fake, fake_labels, data, seed=seed) | {"n": len(fake)}
    return {
        "metrics": result,
        "n_fake": len(fake),
        "n_real": len(real_f),
        "n_floor": n_floor,
        "extractor": extractor.describe(),
        "data": {"name": data.name, "fingerprint": data.fingerprint},
        "seconds": round(time.perf_counter() - t0, 2),
    }


def evaluate_run(run: str | Path, n_samples: int = 10_000, metrics: Optional[Sequence[str]] = None,
                 extractor_path: Optional[str] = None, iwae_k: int = 32, n_test_vae: int = 2000,
                 seed: int = 0, device: str = "cpu", log=print, write: bool = True,
                 extractor_steps: Optional[int] = None) -> dict:
    """Sample a trained run and evaluate it; writes RUN/eval.json."""
    from ..run import load  # the run directory contract (shared utility)

    model = load(run, device)
    data = load_data(model.run_config.data)
    if data.fingerprint != model.dataset_info.get("fingerprint"):
        log(f"warning: {model.run_config.data.source} has changed since training (fingerprint "
            f"{data.fingerprint} != {model.dataset_info.get('fingerprint')})")
    ext = get_extractor(data, path=extractor_path, steps=extractor_steps, log=log)
    fake, labels = eval_samples(model, n_samples, seed)
    result = evaluate_images(fake, data, ext, parse_metrics(metrics), seed=seed, fake_labels=labels)
    if hasattr(model, "encode"):  # VAE: likelihood figures on the test split
        test_labels = _subset(data.labels("test"), n_test_vae, seed) if model.conditional else None
        vae = vae_figures(model, _subset(data.tensor("test"), n_test_vae, seed), test_labels, k=iwae_k)
        result["metrics"] |= {k: v for k, v in vae.items() if k != "n_test"}
    result["run"], result["seed"] = str(run), seed  # eval_samples(model, n_fake, seed) redraws them
    if write:
        write_json(Path(run) / "eval.json", result)
    return result


def evaluate_files(real: str, fake_path: str | Path, metrics=None, extractor_path=None, seed: int = 0,
                   out: Optional[str | Path] = None, log=print, extractor_steps: Optional[int] = None) -> dict:
    """Evaluate any samples file (.npz with `images`, or .npy) against any data source."""
    from ..config import DataConfig
    from ..data.arrays import load_arrays

    data = load_data(DataConfig(source=real))
    path = Path(fake_path)
    if not path.is_file():
        raise RunError(f"--fake {path}: no such file (expected samples.npz with key 'images', or .npy)")
    raw = load_arrays(str(path), None)
    fake = torch.from_numpy(raw.train).permute(0, 3, 1, 2).contiguous()
    labels = None if raw.train_labels is None else torch.from_numpy(raw.train_labels)
    ext = get_extractor(data, path=extractor_path, steps=extractor_steps, log=log)
    result = evaluate_images(fake, data, ext, parse_metrics(metrics), seed=seed, fake_labels=labels)
    result["fake"] = str(path)
    if out:
        write_json(out, result)
    return result


def training_hook(data: ImageData, n_samples: int = 2000, metrics: Sequence[str] = ("fid", "kid", "prdc"),
                  extractor_path: Optional[str] = None, log=print):
    """fn(trainer) -> {metric: value}: the same figures during training (no floors, for speed).
    The extractor is trained (or read from cache) now, before training starts."""
    ext = get_extractor(data, path=extractor_path, log=log)
    names = parse_metrics(metrics)

    def fn(trainer) -> dict:
        fake, _ = eval_samples(trainer.model, n_samples)
        res = evaluate_images(fake, data, ext, names, n_real=n_samples, floors=False, draws=3)
        return {f"eval/{k}": v["value"] for k, v in res["metrics"].items()} | {"eval/n_fake": n_samples}

    return fn


def format_eval(result: dict) -> str:
    """A table: metric, value, interval, real-data floor."""
    lines = [f"{'metric':<20}{'value':>12}  {'interval':<24}{'floor':>12}",
             "-" * 70]
    for name, m in result["metrics"].items():
        v = m.get("value")
        iv = m.get("interval")
        ivs = f"[{iv[0]:.4g}, {iv[1]:.4g}]" if iv else ""
        fl = m.get("floor")
        lines.append(f"{name:<20}{v:>12.4g}  {ivs:<24}{'' if fl is None else f'{fl:>12.4g}'}")
        if "note" in m:
            lines.append(f"{'':<20}{m['note']}")
    lines.append(f"n_fake {result['n_fake']}, n_real {result['n_real']}, n_floor {result.get('n_floor')}; "
                 f"extractor {result['extractor']['kind']} {result['extractor']['fingerprint']}; "
                 f"data {result['data']['name']} {result['data']['fingerprint']}; {result['seconds']} s")
    return "\n".join(lines)
