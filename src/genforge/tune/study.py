"""The optimization loop: an Optuna study over a declared space, FID at a fixed
budget per trial, pruning on intermediate FID, stop rules, confirmation over
seeds and a final run of the best configuration.

    genforge tune --model dcgan --data fashion-mnist --trials 30 --minutes-per-trial 4 \\
                  --storage sqlite:///runs/tune.db --study fm-dcgan

Storage is any SQLAlchemy URL Optuna accepts (SQLite by default, PostgreSQL for
many workers); calling again with the same --study resumes it. A trial that
raises is recorded as failed with its reason and the study goes on. A trial
whose process died (killed, out of memory, machine lost) stops sending its
heartbeat; the next worker to start a trial marks it failed and queues its
parameters again, so no configuration is lost and none is counted twice.
"""

from __future__ import annotations

import shutil
import statistics
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import optuna

from ..errors import ConfigError
from ..evaluate import METRICS, eval_samples, evaluate_samples, get_extractor, metrics_for
from ..evaluate.evaluate import subset
from ..evaluate.registry import figure_metric
from ..io import write_json
from ..modalities import modality_of
from ..models import FAMILIES
from ..run import resolve_config
from ..train import Hook, Trainer
from .space import load_space, params_to_sets, suggest

STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)


MAX_RETRY = 2  # a configuration whose process dies three times is given up (counted as a failed trial)


def storage_for(url: str, heartbeat: int) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage with a heartbeat every `heartbeat` s: a trial silent for twice that long is stale,
    marked failed and queued again with the same parameters (RetryFailedTrialCallback)."""
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}  # the heartbeat thread writes too
    with warnings.catch_warnings():  # the heartbeat is marked experimental since optuna 2.8; it is the documented way
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=kwargs,
            heartbeat_interval=heartbeat,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
        )


def counted_trials(study: optuna.Study) -> list:
    """Finished trials, each configuration once: a trial failed because its process died and queued again
    is replaced by its retry."""
    retried = {n for t in study.trials for n in t.system_attrs.get("retry_history", ())}
    return [t for t in study.trials if t.state in STATES and t.number not in retried]


class TrialBudget:
    """Stop once `n` trials are counted (optuna's MaxTrialsCallback, counting a killed-and-retried
    configuration once); it holds across every worker of the study."""

    def __init__(self, n: int):
        self.n = n

    def __call__(self, study: optuna.Study, trial) -> None:
        if len(counted_trials(study)) >= self.n:
            study.stop()


class PlateauStop:
    """Stop when the last `k` finished trials did not beat the best by more than its measured noise
    (the half-width of the best trial's FID interval)."""

    def __init__(self, k: int):
        self.k = k

    def __call__(self, study: optuna.Study, trial) -> None:
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if len(done) <= self.k:
            return
        before, last = done[: -self.k], done[-self.k :]
        best = min(before, key=lambda t: t.value)
        noise = best.user_attrs.get("fid_noise", 0.0)
        if min(t.value for t in last) > best.value - noise:
            study.set_user_attr("stopped_by", f"plateau: no gain > {noise:.3g} in the last {self.k} trials")
            study.stop()


class TargetStop:
    def __init__(self, target: float):
        self.target = target

    def __call__(self, study: optuna.Study, trial) -> None:
        if trial.state == optuna.trial.TrialState.COMPLETE and trial.value <= self.target:
            study.set_user_attr("stopped_by", f"target: FID {trial.value:.4g} <= {self.target}")
            study.stop()


def objective_metric(family: str, objective: Optional[str]) -> str:
    """The figure a study minimises: `objective`, or the family's modality's Frechet distance.
    Any registered figure of the modality where lower is better (fid, fd, kid, nll_iw, perplexity, ...)."""
    mod = modality_of(FAMILIES.get(family)).name
    objective = objective or ("fid" if "fid" in metrics_for(mod) else "fd")
    metric = figure_metric(objective)
    if mod not in metric.modalities or metric.better != "lower":
        ok = [f for n in metrics_for(mod) for f in METRICS.get(n).figures if METRICS.get(n).better == "lower"]
        raise ConfigError(f"--objective {objective}: expected a {mod} figure where lower is better: {', '.join(ok)}")
    if "likelihood" in metric.needs and "likelihood" not in FAMILIES.get(family).abilities:
        raise ConfigError(f"--objective {objective}: {family} reports no likelihood")
    return objective


def score(model, data, ext, n: int, objective: str = "fid") -> dict:
    """The objective figure of a trained model ({"value", "interval"}) from n samples (or held-out items)."""
    if "likelihood" in figure_metric(objective).needs:
        labels = subset(data.labels("test"), n, 0) if model.conditional else None
        return model.extra_figures(subset(data.tensor("test"), n, 0), labels, k=8)[objective]
    metric = figure_metric(objective).name
    fake, labels = eval_samples(model, n)
    return evaluate_samples(fake, data, ext, (metric,), n_real=n, floors=False, draws=5, fake_labels=labels)["metrics"][
        objective
    ]


def train_and_score(
    family: str,
    sets: list[str],
    data_cfg,
    data,
    ext,
    run: Path,
    budget: dict,
    n_eval: int,
    report: Optional[Callable[[float, int], None]] = None,
    eval_every: Optional[int] = None,
    objective: str = "fid",
) -> dict:
    """Train one configuration at a fixed budget; its objective at the end
    (and every `eval_every` steps to `report`)."""
    cfg = resolve_config(family, None, sets=sets, overrides={"data": data_cfg.model_dump(), "train": budget})
    hooks = ()
    if report is not None and eval_every:
        hooks = (Hook(eval_every, lambda tr: report(score(tr.model, data, ext, n_eval, objective)["value"], tr.step)),)
    tr = Trainer(cfg, run, data=data, progress=False, log=lambda s: None, hooks=hooks)
    steps = tr.fit()
    fig = score(tr.model, data, ext, n_eval, objective)
    return {"fid": fig["value"], "interval": fig.get("interval", [fig["value"]] * 2), "steps": steps, "run": str(run)}


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
    log=print,
) -> dict:
    """Run (or resume) a study minimising `objective` (default: FID, or FD for text); confirm the best
    over seeds; train it into OUT/<study>/best."""
    objective = objective_metric(family, objective)
    if minutes_per_trial is None and steps_per_trial is None:
        raise ConfigError("give a fixed budget per trial: --minutes-per-trial or --steps-per-trial")
    budget = {"steps": steps_per_trial, "minutes": minutes_per_trial, "epochs": None}
    space = load_space(family, space_file)
    root = Path(out_root) / study_name
    root.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(root / 'study.db').resolve()}"
    data = modality_of(FAMILIES.get(family)).load(data_cfg)
    ext = get_extractor(data, steps=extractor_steps, log=log)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage_for(storage, heartbeat),
        direction="minimize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    study.set_user_attr("family", family)

    def run_trial(trial: optuna.Trial) -> float:
        trial_sets = [*sets, *suggest(trial, space)]

        def report(value: float, step: int) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{objective} {value:.4g} at step {step}")

        try:
            res = train_and_score(
                family,
                trial_sets,
                data_cfg,
                data,
                ext,
                root / f"trial_{trial.number:04d}",
                budget,
                n_eval,
                report,
                eval_every,
                objective,
            )
        except optuna.TrialPruned:
            raise
        except Exception as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            raise
        trial.set_user_attr("run", res["run"])
        trial.set_user_attr("fid_noise", (res["interval"][1] - res["interval"][0]) / 2)
        log(f"trial {trial.number}: {objective} {res['fid']:.4g} after {res['steps']} steps ({', '.join(trial_sets)})")
        return res["fid"]

    callbacks = [TrialBudget(trials)]
    if target is not None:
        callbacks.append(TargetStop(target))
    if plateau:
        callbacks.append(PlateauStop(plateau))
    t0 = time.perf_counter()
    n_before = len(study.trials)
    if len(counted_trials(study)) < trials:
        study.optimize(
            run_trial,
            timeout=None if max_minutes is None else max_minutes * 60,
            callbacks=callbacks,
            catch=(Exception,),
            gc_after_trial=True,
        )
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ConfigError(f"study '{study_name}' has no completed trial; see the failed trials' errors in {storage}")
    best = study.best_trial
    best_sets = [*sets, *params_to_sets(best.params)]
    log(f"best trial {best.number}: {objective} {best.value:.4g}; confirming over {confirm_seeds} seeds")
    for derived in [root / "best", *root.glob("confirm_seed*")]:  # rebuilt from the (maybe new) best
        shutil.rmtree(derived, ignore_errors=True)
    confirm = [
        train_and_score(
            family,
            best_sets + [f"train.seed={s}"],
            data_cfg,
            data,
            ext,
            root / f"confirm_seed{s}",
            budget,
            n_eval,
            objective=objective,
        )["fid"]
        for s in range(1, confirm_seeds + 1)
    ]
    final = train_and_score(
        family, best_sets, data_cfg, data, ext, root / "best", final_budget or budget, n_eval, objective=objective
    )
    summary = {
        "study": study_name,
        "storage": storage,
        "family": family,
        "data": data_cfg.source,
        "objective": objective,
        "trials": [
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
        ],
        # how long the search took to find its best: from the first trial's start to the best trial's end
        "minutes_to_best": round((best.datetime_complete - study.trials[0].datetime_start).total_seconds() / 60, 2),
        "trials_to_best": best.number + 1,
        "new_trials": len(study.trials) - n_before,
        "stopped_by": study.user_attrs.get("stopped_by", "trial count or time"),
        "best": {"number": best.number, "value": best.value, "params": best.params, "sets": best_sets},
        "confirmation": {
            "seeds": list(range(1, confirm_seeds + 1)),
            "fid": confirm,
            "mean": statistics.fmean(confirm) if confirm else None,
            "std": statistics.stdev(confirm) if len(confirm) > 1 else 0.0,
        },
        "final": final,
        "minutes": round((time.perf_counter() - t0) / 60, 2),
    }
    write_json(root / "study.json", summary)
    return summary
