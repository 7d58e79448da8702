"""Kill campaigns: real `genforge train`, `evaluate` and `tune` processes SIGKILLed at random moments.

    python -m genforge.faults --kills 20 [--command train|evaluate|tune] [--family dcgan] [--steps 300] [--seed 0]

train: after every kill, every JSON file of the run parses, the weights and the training state load (the
kill may land in a checkpoint, preview, metrics or status write); the run is resumed until it finishes,
and then its weights must equal an uninterrupted run's bit for bit (deterministic kernels, one thread)
and metrics.jsonl must hold each logged step once. evaluate: a trained run is evaluated with a fresh
feature-extractor cache each time and killed (in extractor training, cache writes, sampling, metrics or
the eval.json write); any eval.json left must parse, and the evaluation run again to its end must give
the uninterrupted evaluation's figures. tune: a small study is killed (in a trial's training or scoring,
a trial commit, the confirmation or the final run) and started again until it finishes; after every kill
the SQLite study opens and every JSON parses; at the end the study holds exactly its trial budget, each
killed trial was failed and run again with the same parameters, none is left running, and study.json's
best is the study's. Prints a JSON summary; exits 1 when anything failed.
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

import optuna
import torch
from safetensors.torch import load_file

from .models import FAMILIES
from .run import STATE, WEIGHTS, load_state, read_weights
from .tune.workers import MAX_RETRY, counted_trials

QUIET = ["train.log_every=5", "train.sample_every=7", "train.checkpoint_every=10", "train.grid_size=16"]


# small real data of each modality the kill campaigns train on: the digits, still or moving
DATA = {
    "image": ("digits", []),
    "video": ("moving-digits", ["data.clips=200", "data.resolution=16", "data.frames=8", "model.kernel=3"]),
}


def train_command(out: Path, family: str, steps: int, resume: bool) -> list[str]:
    """A small deterministic run of `family` on the digits (moving digits for a video family), or its resumption."""
    source, data_sets = DATA[FAMILIES.get(family).modality]
    sets = ["train.deterministic=true", "train.threads=1", "model.width=0.25", *QUIET, *([] if resume else data_sets)]
    head = ["--resume", str(out)] if resume else ["--model", family, "--data", source, "--out", str(out)]
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
            read_weights(run / WEIGHTS)
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


STUDY_TRIALS = 5


def tune_command(root: Path, family: str, steps: int) -> list[str]:
    """A small study of `family` on the digits; the same command continues it."""
    sets = ["train.threads=1", "model.width=0.25", *QUIET]
    return [
        *(sys.executable, "-m", "genforge", "tune", "--model", family, "--data", "digits", "--study", "s"),
        *("--out", str(root), "--trials", str(STUDY_TRIALS), "--steps-per-trial", str(steps)),
        *("--eval-samples", "200", "--confirm-seeds", "1", "--final-steps", str(steps), "--heartbeat", "1"),
    ] + [a for s in sets for a in ("--set", s)]


def study_problems(root: Path, finished: bool) -> tuple[list[str], int]:
    """What is wrong with a (maybe killed) study: files that do not parse, a database that does not open;
    once finished, a trial budget not met exactly, a killed trial not retried, a trial left running.
    With the number of trials that were retries of killed ones."""
    bad = [p for run in root.glob("s/*/") for p in check_files(run)] + check_files(root / "s")
    try:
        study = optuna.load_study(study_name="s", storage=f"sqlite:///{root / 's' / 'study.db'}")
        trials = study.trials
    except KeyError:  # killed before the study was created in its (maybe new) database: not corruption
        return bad + (["the finished study is not in its database"] if finished else []), 0
    except Exception as e:
        return bad + [f"study does not open: {e}"], 0
    retried = sum("failed_trial" in t.system_attrs for t in trials)
    if not finished:
        return bad, retried
    counted = counted_trials(study)
    if len(counted) != STUDY_TRIALS:
        bad.append(f"{len(counted)} trials counted, expected {STUDY_TRIALS}")
    left = [t.number for t in trials if t.state.name in ("RUNNING", "WAITING")]
    if left:
        bad.append(f"trials left running or waiting: {left}")
    for t in trials:
        retries = [r for r in trials if t.number in r.system_attrs.get("retry_history", ())]
        killed = t.state.name == "FAIL" and "error" not in t.user_attrs
        if killed and not retries and len(t.system_attrs.get("retry_history", ())) < MAX_RETRY:
            bad.append(f"trial {t.number} was killed and not run again")
        if any(not r.params.items() >= t.params.items() for r in retries):  # killed mid-suggest: some params
            bad.append(f"trial {t.number} was retried with other parameters")
    best = json.loads((root / "s" / "study.json").read_text())["best"]["value"]
    if best != min(t.value for t in trials if t.state.name == "COMPLETE"):
        bad.append(f"study.json's best {best} is not the study's best")
    return bad, retried


def tune_campaign(root: Path, kills: int, family: str = "dcgan", steps: int = 100, seed: int = 0, log=print) -> dict:
    """SIGKILL `genforge tune` `kills` times in all; each study is started again until it finishes (a study
    that finishes before the kills are spent is followed by a new one) and then checked."""
    rng = random.Random(seed)
    env = dict(os.environ, OMP_NUM_THREADS="1", GENFORGE_CACHE=str(root / "cache"))
    rc, err = run_or_kill(tune_command(root / "reference", family, steps), env, None)  # also trains the extractor
    if rc:
        raise RuntimeError(f"the uninterrupted study exited {rc}: {err}")
    done, problems, studies, starts, retried = 0, [], 0, 0, 0
    while done < kills:
        study, study_kills = root / f"study{studies}", 0
        studies += 1
        while True:
            starts += 1
            timeout = rng.uniform(3.0, 20.0) if done < kills else None
            rc, err = run_or_kill(tune_command(study, family, steps), env, timeout)
            if rc is None:
                done, study_kills = done + 1, study_kills + 1
                problems += study_problems(study, finished=False)[0]
                continue
            if rc != 0:
                problems.append(f"{study}: exit {rc}: {err}")
                break
            found, n = study_problems(study, finished=True)
            problems, retried = problems + found, retried + n
            log(f"{study.name}: {study_kills} kill(s), {n} trial(s) retried, finished; problems: {found or 'none'}")
            break
    return {"kills": done, "starts": starts, "studies": studies, "retried_trials": retried, "problems": problems}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--command", choices=("train", "evaluate", "tune"), default="train")
    ap.add_argument("--family", default="dcgan")
    ap.add_argument("--steps", type=int, default=None, help="steps of each run (train 300) or trial (tune 100)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        say = lambda s: print(s, flush=True)  # noqa: E731
        if args.command == "train":
            res = campaign(Path(tmp), args.kills, args.family, args.steps or 300, args.seed, log=say)
        elif args.command == "tune":
            res = tune_campaign(Path(tmp), args.kills, args.family, args.steps or 100, args.seed, log=say)
        else:
            res = evaluate_campaign(Path(tmp), args.kills, args.family, args.seed, log=say)
    print(json.dumps(res | {"seconds": round(time.time() - t0)}, indent=2))
    sys.exit(1 if res["problems"] else 0)


if __name__ == "__main__":
    main()
