"""Evaluation speed and memory: images/s through the feature extractor, seconds of a
whole evaluation of 10,000 samples, and the process' peak resident memory."""

from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path

from ..evaluate import evaluate_run, evaluate_samples, get_extractor
from ..modalities.image.dataset import load_data
from ..modalities.image.modality import ImageDataConfig
from ..run import read_config


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def eval_bench(target: str, n: int = 10_000, repeats: int = 3, log=print) -> dict:
    """`target` is a run directory (its samples are evaluated, as `genforge evaluate RUN` does) or a
    data source (its test images stand in for samples: the cost does not depend on content)."""
    run = Path(target) if (Path(target) / "config.json").is_file() else None
    if run is not None:
        data_cfg = read_config(run)[0].data
    else:
        data_cfg = ImageDataConfig(source=target)
    data = load_data(data_cfg)
    ext = get_extractor(data, log=log)  # trained once, then read from the cache
    x = data.tensor("test")[:n]
    rss_before = peak_rss_mib()
    feats = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ext.embed(x)
        feats.append(len(x) / (time.perf_counter() - t0))
    whole = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        if run is not None:
            evaluate_run(run, n, write=False, log=lambda s: None)
        else:
            evaluate_samples(x, data, ext)
        whole.append(time.perf_counter() - t0)
    return {
        "target": target,
        "n": len(x),
        "extractor_images_per_s": feats,
        "evaluate_seconds": whole,
        "peak_rss_mib_before": rss_before,
        "peak_rss_mib": peak_rss_mib(),
        "median_images_per_s": statistics.median(feats),
        "median_seconds": statistics.median(whole),
    }
