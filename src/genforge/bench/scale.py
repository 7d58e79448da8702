"""Scaling out, measured on this machine.

    python -m genforge.bench.scale ddp [--steps 300] [--repeats 3]     # 2 processes (torchrun) vs 1, same global batch
    python -m genforge.bench.scale tune [--trials 8] [--trial-steps 1000]  # 2 workers on PostgreSQL vs 1 on SQLite

ddp: the default DCGAN on Fashion-MNIST (digits without it), global batch 64, one process with all the
cores against two processes with half each; images/s from metrics.jsonl (min / median / max over the
repeats) and how far apart the two loss curves are. tune: one study each way with the same trial budget
and seed; wall-clock minutes and the best FID.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import tune as tuning
from ..modalities.image.modality import ImageDataConfig
from ..tune.pgcluster import start, stop

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def train(out: Path, procs: int, steps: int, data: str) -> list[dict]:
    """metrics.jsonl of a default-DCGAN run on `procs` processes (the cores shared among them)."""
    cores = os.cpu_count() or 1
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, cores // procs)))
    head = [sys.executable, "-m", "genforge"]
    if procs > 1:
        run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)]
        head = [*run, "-m", "genforge"]
    args = ["train", "--model", "dcgan", "--data", data, "--steps", str(steps), "--out", str(out), "--no-progress"]
    sets = ["train.log_every=25", "train.sample_every=100000", "train.checkpoint_every=100000", "train.seed=0",
            f"train.threads={max(1, cores // procs)}"]  # fmt: skip
    subprocess.run(head + args + [a for s in sets for a in ("--set", s)], env=env, check=True, capture_output=True)
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"loss_d"' in x]


def ddp(steps: int, repeats: int) -> None:
    data = "fashion-mnist" if FMNIST.is_dir() else "digits"
    rates: dict[int, list[float]] = {1: [], 2: []}
    curves: dict[int, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for procs in (1, 2):  # interleaved, so both see the same machine load
                recs = train(Path(tmp) / f"p{procs}-{r}", procs, steps, data)
                rates[procs].append(statistics.median(x["images_per_s"] for x in recs[1:]))  # the first holds start-up
                curves[procs] = recs
    fm = lambda v: f"{min(v):.0f} / {statistics.median(v):.0f} / {max(v):.0f}"  # noqa: E731
    print(f"DCGAN default on {data}, global batch 64, {steps} steps, {repeats} repeats, {os.cpu_count()} cores\n")
    print("| processes x threads | images/s min / median / max | vs one process |\n|---|---|---|")
    for procs in (1, 2):
        ratio = statistics.median(rates[procs]) / statistics.median(rates[1])
        print(f"| {procs} x {max(1, (os.cpu_count() or 1) // procs)} | {fm(rates[procs])} | {ratio:.2f}x |")
    print("\n| step | loss_d (1 process) | loss_d (2) | loss_g (1) | loss_g (2) |\n|---|---|---|---|---|")
    for a, b in zip(curves[1], curves[2]):
        if a["step"] % (steps // 6 or 1) == 0 or a is curves[1][-1]:
            print(f"| {a['step']} | {a['loss_d']:.3f} | {b['loss_d']:.3f} | {a['loss_g']:.3f} | {b['loss_g']:.3f} |")


def tune(trials: int, trial_steps: int) -> None:
    common = dict(
        family="dcgan",
        data_cfg=ImageDataConfig(source="digits"),
        trials=trials,
        study_name="bench",
        steps_per_trial=trial_steps,
        n_eval=1000,
        confirm_seeds=1,
        seed=0,
        log=lambda s: None,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pg = Path(tempfile.mkdtemp(prefix="genforge-pg-"))  # reachable by the postgres user when run as root
        try:
            url = start(pg, 55433)
            for name, kw in (("1 worker, SQLite", {}), ("2 workers, PostgreSQL", {"workers": 2, "storage": url})):
                t0 = time.perf_counter()
                s = tuning.tune(**common, out_root=Path(tmp) / name.split(",")[0].replace(" ", ""), **kw)
                searched = sum(t["seconds"] or 0 for t in s["trials"]) / 60
                rows.append((name, (time.perf_counter() - t0) / 60, searched, s["best"]["value"]))
        finally:
            stop(pg)
            shutil.rmtree(pg, ignore_errors=True)
    print(f"DCGAN on digits, {trials} trials of {trial_steps} steps, FID of 1,000 samples, the same seed\n")
    print("| run | wall-clock minutes (search + confirm + final) | trial-minutes | best FID |\n|---|---|---|---|")
    for name, wall, searched, best in rows:
        print(f"| {name} | {wall:.2f} | {searched:.2f} | {best:.3g} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("ddp", "tune"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--trial-steps", type=int, default=1000)
    args = ap.parse_args(argv)
    ddp(args.steps, args.repeats) if args.what == "ddp" else tune(args.trials, args.trial_steps)


if __name__ == "__main__":
    main()
