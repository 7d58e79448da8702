"""The optimization loop: an Optuna study over a declared space, FID at a fixed
budget per trial, pruning on intermediate FID, stop rules, confirmation over
seeds and a final run of the best configuration.

    genforge tune --model dcgan --data fashion-mnist --trials 30 --minutes-per-trial 4 \\
                  --storage sqlite:///runs/tune.db --study fm-dcgan

Storage is any SQLAlchemy URL Optuna accepts (SQLite by default, PostgreSQL for
many workers) or `journal:FILE` (Optuna's journal file, for a shared file
system); calling again with the same --study resumes it. `--workers N` runs N
worker processes on this machine; `--join` adds a worker from anywhere that
reaches the storage (workers.py). The trial budget and stop rules hold across
all workers; the confirmation and the final run happen once, in the process
that was not started with --join.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Optional

import optuna

from ..errors import ConfigError
from ..evaluate import get_extractor
from ..io import write_json
from ..modalities import modality_of
from ..models import FAMILIES
from .space import load_space, params_to_sets
from .trials import objective_metric, train_and_score
from .workers import StudySpec, check_workers, local_workers, open_study, settle, work


def tune(
    family: str,
    data_cfg,
    trials: int,
    study_name: str,
    storage: Optional[str] = None,
    minutes_per_trial: Optional[float] = None,
    steps_per_trial: Optional[int] = None,
    space_file: Optional[str] = None,
    out_root: str | Path = "runs",
    n_eval: int = 2000,
    eval_every: Optional[int] = None,
    target: Optional[float] = None,
    plateau: Optional[int] = None,
    max_minutes: Optional[float] = None,
    confirm_seeds: int = 3,
    sets: tuple[str, ...] = (),
    extractor_steps: Optional[int] = None,
    final_budget: Optional[dict] = None,
    seed: int = 0,
    objective: Optional[str] = None,
    heartbeat: int = 10,
    workers: int = 1,
    join: bool = False,
    worker_id: int = 0,
    log=print,
) -> dict:
    """Run (or resume) a study minimising `objective` (default: FID, or FD for text) with `workers` local
    worker processes; confirm the best over seeds; train it into OUT/<study>/best. With `join`, only run
    trials of an existing study (as worker `worker_id`) until its budget is met."""
    objective = objective_metric(family, objective)
    if minutes_per_trial is None and steps_per_trial is None:
        raise ConfigError("give a fixed budget per trial: --minutes-per-trial or --steps-per-trial")
    budget = {"steps": steps_per_trial, "minutes": minutes_per_trial, "epochs": None}
    load_space(family, space_file)  # a bad space file is an error before any worker starts
    root = Path(out_root) / study_name
    root.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(root / 'study.db').resolve()}"
    spec = StudySpec(
        family, data_cfg, trials, study_name, storage, budget, space_file, str(out_root), n_eval, eval_every, target,
        plateau, max_minutes, tuple(sets), extractor_steps, seed, objective, heartbeat,
    )  # fmt: skip
    check_workers(workers, join, storage)
    if join:
        return {"study": study_name, "storage": storage, "joined": True, "trials_run": work(spec, worker_id, log)}
    data = modality_of(FAMILIES.get(family)).load(data_cfg)
    ext = get_extractor(data, steps=extractor_steps, log=log)  # trained once, before the workers read the cache
    t0 = time.perf_counter()
    study = open_study(spec, 0)
    n_before = len(study.trials)
    with local_workers(spec, workers, log):
        work(spec, 0, log, data, ext)
    settle(study, spec, log, data, ext, t0)  # study.trials reads the storage again: every worker's trials
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise ConfigError(f"study '{study_name}' has no completed trial; see the failed trials' errors in {storage}")
    best = study.best_trial
    best_sets = [*sets, *params_to_sets(best.params)]
    log(f"best trial {best.number}: {objective} {best.value:.4g}; confirming over {confirm_seeds} seeds")
    confirm, final = confirm_best(spec, best_sets, data, ext, root, confirm_seeds, final_budget or budget)
    summary = summarize(study, spec, best_sets, confirm, final) | {
        "new_trials": len(study.trials) - n_before,
        "minutes": round((time.perf_counter() - t0) / 60, 2),
    }
    write_json(root / "study.json", summary)
    return summary


def confirm_best(spec: StudySpec, best_sets: list[str], data, ext, root: Path, seeds: int, final_budget: dict):
    """(the objective of the best configuration at seeds 1..`seeds`, the final run's result in ROOT/best)."""
    for derived in [root / "best", *root.glob("confirm_seed*")]:  # rebuilt from the (maybe new) best
        shutil.rmtree(derived, ignore_errors=True)

    def score(sets: list[str], out: Path, budget: dict) -> dict:
        return train_and_score(
            spec.family, sets, spec.data_cfg, data, ext, out, budget, spec.n_eval, objective=spec.objective
        )

    confirm = [
        score(best_sets + [f"train.seed={s}"], root / f"confirm_seed{s}", spec.budget)["fid"]
        for s in range(1, seeds + 1)
    ]
    return confirm, score(best_sets, root / "best", final_budget)


def summarize(study, spec: StudySpec, best_sets: list[str], confirm: list[float], final: dict) -> dict:
    """study.json: every trial, the best, how long it took to find, the confirmation and the final run."""
    best = study.best_trial
    trials = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "error": t.user_attrs.get("error"),
            "retry_of": t.system_attrs.get("failed_trial"),
            "run": t.user_attrs.get("run"),
            "seconds": t.duration.total_seconds() if t.duration else None,
        }
        for t in study.trials
    ]
    return {
        "study": spec.study_name,
        "storage": spec.storage,
        "family": spec.family,
        "data": spec.data_cfg.source,
        "objective": spec.objective,
        "trials": trials,
        # how long the search took to find its best: from the first trial's start to the best trial's end
        "minutes_to_best": round((best.datetime_complete - study.trials[0].datetime_start).total_seconds() / 60, 2),
        "trials_to_best": best.number + 1,
        "stopped_by": study.user_attrs.get("stopped_by", "trial count or time"),
        "best": {"number": best.number, "value": best.value, "params": best.params, "sets": best_sets},
        "confirmation": {
            "seeds": list(range(1, len(confirm) + 1)),
            "fid": confirm,
            "mean": statistics.fmean(confirm) if confirm else None,
            "std": statistics.stdev(confirm) if len(confirm) > 1 else 0.0,
        },
        "final": final,
    }
