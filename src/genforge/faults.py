"""Kill campaign: a real `genforge train` process SIGKILLed at random moments and resumed, until it finishes.

    python -m genforge.faults --kills 20 [--family dcgan] [--steps 300] [--seed 0]

Checks after every kill: every JSON file of the run parses, the weights load, the training state loads
(the kill may land in a checkpoint, preview, metrics or status write). At the end: the resumed run's
weights equal those of an uninterrupted run bit for bit (deterministic kernels, one thread), and
metrics.jsonl holds each logged step once. Prints a JSON summary; exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from .run import STATE, WEIGHTS, load_state

QUIET = ["train.log_every=5", "train.sample_every=7", "train.checkpoint_every=10", "train.grid_size=16"]


def train_command(out: Path, family: str, steps: int, resume: bool) -> list[str]:
    """A small deterministic run of `family` on the digits, or its resumption."""
    sets = ["train.deterministic=true", "train.threads=1", "model.width=0.25", *QUIET]
    head = ["--resume", str(out)] if resume else ["--model", family, "--data", "digits", "--out", str(out)]
    return [sys.executable, "-m", "genforge", "train", *head, "--steps", str(steps), "--no-progress"] + [
        a for s in sets for a in ("--set", s)
    ]


def check_files(run: Path) -> list[str]:
    """Problems with the files a run leaves: JSON that does not parse, weights or state that do not load."""
    bad = []
    for path in run.rglob("*.json"):
        try:
            json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            bad.append(f"{path}: {e}")
    if (run / WEIGHTS).exists():
        try:
            load_file(str(run / WEIGHTS))
        except Exception as e:  # any failure to load is what the campaign looks for
            bad.append(f"{run / WEIGHTS}: {e}")
    if (run / STATE).exists():
        try:
            load_state(run)
        except Exception as e:
            bad.append(f"{run / STATE}: {e}")
    return bad


def logged_steps(run: Path) -> list[int]:
    """The steps of metrics.jsonl's loss lines, in file order."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r["step"] for r in map(json.loads, lines) if any(k.startswith("loss") for k in r)]


def campaign(root: Path, kills: int, family: str = "dcgan", steps: int = 300, seed: int = 0, log=print) -> dict:
    """SIGKILL training runs `kills` times in all, each run resumed until it finishes (a run that finishes
    before the kills are spent is followed by a new one); every finished run is compared with a reference."""
    rng = random.Random(seed)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ref = root / "reference"
    subprocess.run(train_command(ref, family, steps, False), env=env, check=True, capture_output=True)
    want = load_file(str(ref / WEIGHTS))
    done, problems, runs, equal, resumes = 0, [], 0, True, 0
    while done < kills:
        run, started, run_kills = root / f"run{runs}", False, 0
        runs += 1
        while True:
            resume = started and (run / STATE).exists()  # killed before its first checkpoint: start afresh
            resumes += resume
            cmd = train_command(run, family, steps, resume)
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            started = True
            try:  # once the kills are spent, the run is left to finish
                proc.wait(timeout=rng.uniform(1.0, 8.0) if done < kills else None)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                done, run_kills = done + 1, run_kills + 1
                problems += check_files(run)
                continue
            if proc.returncode != 0:
                problems.append(f"{run}: exit {proc.returncode}: {proc.stderr.read().decode()[-300:]}")
                break
            got = load_file(str(run / WEIGHTS))
            same = want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
            steps_once = len(set(logged_steps(run))) == len(logged_steps(run))
            equal &= same
            if not (same and steps_once):
                problems.append(f"{run}: weights equal {same}, each step logged once {steps_once}")
            log(f"{run.name}: {run_kills} kill(s), finished; bit-exact: {same}, each step logged once: {steps_once}")
            break
    return {"kills": done, "resumes": resumes, "runs": runs, "problems": problems, "bit_exact": equal}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--family", default="dcgan")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        res = campaign(Path(tmp), args.kills, args.family, args.steps, args.seed, log=lambda s: print(s, flush=True))
    print(json.dumps(res | {"seconds": round(time.time() - t0)}, indent=2))
    sys.exit(1 if res["problems"] else 0)


if __name__ == "__main__":
    main()
