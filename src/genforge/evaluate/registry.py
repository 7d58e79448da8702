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

from ..modalities import MODALITIES
from ..modalities.manifest import provide
from ..registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Optional[Callable]  # (ctx, side) -> {figure: dict}; None for the family's likelihood figures
    modalities: Optional[frozenset[str]]  # None: every modality that can feed it
    except_for: frozenset[str]  # modalities that have the same figure under another name (images: fid for fd)
    needs: frozenset[str]  # features, probs, labels, strings, likelihood
    better: Literal["lower", "higher"]
    floor: bool
    help: str
    figures: tuple[str, ...]  # the eval.json names it writes

    def serves(self, modality: str) -> bool:
        """Whether this metric is computed for data of `modality`."""
        return (self.modalities is None or modality in self.modalities) and modality not in self.except_for


METRICS: Registry[Metric] = Registry("metric", provide)


def register_metric(
    name: str,
    modalities: Optional[tuple[str, ...]] = None,
    except_for: tuple[str, ...] = (),
    needs=(),
    better="lower",
    floor=True,
    help="",
    figures: tuple[str, ...] = (),
):
    """Decorator: register `fn` (or None for a likelihood figure) as the metric `name`. Without `modalities`
    it serves every modality: one that cannot feed it (no labels, no likelihood) is skipped at evaluation."""

    def deco(fn):
        mods = None if modalities is None else frozenset(modalities)
        METRICS.register(name)(
            Metric(name, fn, mods, frozenset(except_for), frozenset(needs), better, floor, help, figures or (name,))
        )
        return fn

    return deco


def metrics_for(modality: str) -> list[str]:
    """Names of the metrics that serve `modality`, in registration order."""
    return [m.name for m in METRICS.values() if m.serves(modality)]


def figure_metric(figure: str) -> Metric:
    """The metric that writes eval.json figure `figure` (e.g. 'recall' -> prdc)."""
    for m in METRICS.values():
        if figure in m.figures:
            return m
    METRICS.get(figure)  # raises with the list of names
    raise AssertionError


def catalog() -> str:
    """One line per metric: name, the registered modalities it serves, direction, help (CLI help and docs)."""
    serves = lambda m: "/".join(sorted(mod for mod in MODALITIES.names() if m.serves(mod)))  # noqa: E731
    return "\n".join(f"{m.name:<18} {serves(m):<17} {m.better:<7} {m.help}" for m in METRICS.values())
