"""The metric registry: each metric says what it needs, which modalities it serves and which
direction is better. `evaluate`, the sanity tables, the CLI help and the tuner's objective
are built from it; a new metric is one function plus one `register_metric`.

A metric function takes (ctx, side) and returns {figure name: {"value", "interval", ...}};
`side` is the samples, or, for the floor, as many held-out real items. Metrics with
`floor=False` compute their own floor (memorization, usefulness) or have none.
Likelihood figures come from the family (`Family.extra_figures`); they are registered
here with `needs={"likelihood"}` so that they can be named, listed and tuned for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Optional

from ..registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Optional[Callable]  # (ctx, side) -> {figure: dict}; None for the family's likelihood figures
    modalities: frozenset[str]
    needs: frozenset[str]  # features, probs, labels, strings, likelihood
    better: Literal["lower", "higher"]
    floor: bool
    help: str
    figures: tuple[str, ...]  # the eval.json names it writes


METRICS: Registry[Metric] = Registry("metric")


def register_metric(
    name: str,
    modalities=("image", "text", "audio"),
    needs=(),
    better="lower",
    floor=True,
    help="",
    figures: tuple[str, ...] = (),
):
    """Decorator: register `fn` (or None for a likelihood figure) as the metric `name`."""

    def deco(fn):
        METRICS.register(name)(
            Metric(name, fn, frozenset(modalities), frozenset(needs), better, floor, help, figures or (name,))
        )
        return fn

    return deco


def metrics_for(modality: str) -> list[str]:
    """Names of the metrics that serve `modality`, in registration order."""
    return [m.name for m in METRICS.values() if modality in m.modalities]


def figure_metric(figure: str) -> Metric:
    """The metric that writes eval.json figure `figure` (e.g. 'recall' -> prdc)."""
    for m in METRICS.values():
        if figure in m.figures:
            return m
    METRICS.get(figure)  # raises with the list of names
    raise AssertionError


def catalog() -> str:
    """One line per metric: name, modalities, direction, help (for the CLI help and docs)."""
    return "\n".join(
        f"{m.name:<18} {'/'.join(sorted(m.modalities)):<17} {m.better:<7} {m.help}" for m in METRICS.values()
    )
