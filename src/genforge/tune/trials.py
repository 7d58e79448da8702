"""One trial of a study: train a configuration at a fixed budget and score it; the stop rules that look at
finished trials."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import optuna

from ..errors import ConfigError
from ..evaluate import METRICS, eval_samples, evaluate_samples, metrics_for
from ..evaluate.evaluate import subset
from ..evaluate.registry import figure_metric
from ..modalities import modality_of
from ..models import FAMILIES
from ..run import resolve_config
from ..train import Hook, Trainer


class StopRule:
    """A rule that stops the study after a finished trial; `fired` tells the worker's loop that it did."""

    fired = False

    def stop(self, study: optuna.Study, why: str) -> None:
        study.set_user_attr("stopped_by", why)
        self.fired = True
        study.stop()


class PlateauStop(StopRule):
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
            self.stop(study, f"plateau: no gain > {noise:.3g} in the last {self.k} trials")


class TargetStop(StopRule):
    def __init__(self, target: float):
        self.target = target

    def __call__(self, study: optuna.Study, trial) -> None:
        if trial.state == optuna.trial.TrialState.COMPLETE and trial.value <= self.target:
            self.stop(study, f"target: FID {trial.value:.4g} <= {self.target}")


def objective_metric(family: str, objective: Optional[str]) -> str:
    """The figure a study minimises: `objective`, or the family's modality's Frechet distance.
    Any registered figure of the modality where lower is better (fid, fd, kid, nll_iw, perplexity, ...)."""
    mod = modality_of(FAMILIES.get(family)).name
    objective = objective or ("fid" if "fid" in metrics_for(mod) else "fd")
    metric = figure_metric(objective)
    if not metric.serves(mod) or metric.better != "lower":
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
