"""Kill campaigns: real `genforge train` and `genforge evaluate` processes SIGKILLed at random moments.

    python -m genforge.faults --kills 20 [--command train|evaluate] [--family dcgan] [--steps 300] [--seed 0]

train: after every kill, every JSON file of the run parses, the weights and the training state load (the
kill may land in a checkpoint, preview, metrics or status write); the run is resumed until it finishes,
and then its weights must equal an uninterrupted run's bit for bit (deterministic kernels, one thread)
and metrics.jsonl must hold each logged step once. evaluate: a trained run is evaluated with a fresh
feature-extractor cache each time and killed (in extractor training, cache writes, sampling, metrics or
the eval.json write); any eval.json left must parse, and the evaluation run again to its end must give
the uninterrupted evaluation's figures. Prints a JSON summary; exits 1 when anything failed.
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
from typing import Optional

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


def run_or_kill(cmd: list[str], env: dict, timeout: Optional[float]) -> tuple[Optional[int], str]:
    """(exit status, the tail of its stderr) of `cmd`, or (None, "") when it was SIGKILLed after `timeout` s.
    stderr goes to a file: a pipe nobody reads while waiting could fill and stall the process."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return None, ""
        err.seek(0)
        return proc.returncode, err.read().decode(errors="replace")[-300:]


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
            started = True
            # once the kills are spent, the run is left to finish
            rc, err = run_or_kill(cmd, env, rng.uniform(1.0, 8.0) if done < kills else None)
            if rc is None:
                done, run_kills = done + 1, run_kills + 1
                problems += check_files(run)
                continue
            if rc != 0:
                problems.append(f"{run}: exit {rc}: {err}")
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


def evaluate_command(run: Path) -> list[str]:
    return [sys.executable, "-m", "genforge", "evaluate", str(run), "--samples", "300", "--extractor-steps", "60"]


def figures(run: Path) -> dict:
    """The values (and intervals and floors) of a run's eval.json, without its timing."""
    return json.loads((run / "eval.json").read_text())["metrics"]


def evaluate_campaign(root: Path, kills: int, family: str = "dcgan", seed: int = 0, log=print) -> dict:
    """SIGKILL `genforge evaluate` `kills` times; each killed evaluation is run again to its end and compared."""
    rng = random.Random(seed)
    run = root / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(train_command(run, family, 60, False), env=env, check=True, capture_output=True)

    def evaluate(cache: Path, timeout=None) -> bool:
        """True when the evaluation finished, False when it was killed."""
        rc, err = run_or_kill(evaluate_command(run), env | {"GENFORGE_CACHE": str(cache)}, timeout)
        if rc:
            raise RuntimeError(f"genforge evaluate {run} exited {rc}: {err}")
        return rc is not None

    evaluate(root / "cache-reference")
    want = figures(run)
    done, problems, rounds = 0, [], 0
    while done < kills:
        rounds += 1
        (run / "eval.json").unlink()
        cache = root / f"cache{rounds}"
        if not evaluate(cache, rng.uniform(1.0, 12.0)):
            done += 1
            problems += check_files(run) + check_files(cache)
            evaluate(cache)  # the same cache: whatever the killed process left in it must be usable
        same = figures(run) == want
        if not same:
            problems.append(f"round {rounds}: the figures differ from the uninterrupted evaluation's")
        log(f"round {rounds}: {done} kill(s) so far, figures equal: {same}")
    return {"kills": done, "rounds": rounds, "problems": problems}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--command", choices=("train", "evaluate"), default="train")
    ap.add_argument("--family", default="dcgan")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        say = lambda s: print(s, flush=True)  # noqa: E731
        if args.command == "train":
            res = campaign(Path(tmp), args.kills, args.family, args.steps, args.seed, log=say)
        else:
            res = evaluate_campaign(Path(tmp), args.kills, args.family, args.seed, log=say)
    print(json.dumps(res | {"seconds": round(time.time() - t0)}, indent=2))
    sys.exit(1 if res["problems"] else 0)


if __name__ == "__main__":
    main()
