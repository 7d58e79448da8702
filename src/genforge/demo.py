"""`genforge demo`: good samples first and soon, then the article's models as the comparison.

Within a wall-clock budget (10 minutes by default, set-up not counted): the family and preset that
`--model auto` picks for the data at that share of the budget (the measured best) gets the largest share,
then the article's DCGAN and the article's VAE; then sample grids, the first run's report and a comparison
page. It prints the plan first and, at the end, what each part took and what to open.
"""

from __future__ import annotations

import time
from pathlib import Path

from .models import FAMILIES
from .report import write_report
from .report.compare import compare
from .run import auto_family, load, resolve_config
from .sample import manifold, prior_samples, write_samples
from .train import Trainer

FIRST = 0.45  # the measured best's share of the budget
# (run name, family, preset, share of the budget) of the article's models; the rest is for grids and pages
ARTICLE = (("dcgan-article", "dcgan", "article", 0.2), ("vae-article", "vae", "article", 0.2))


def plan(data: str, minutes: float) -> list[tuple[str, str, str, float]]:
    """The demo's runs: the family `--model auto` picks for `data` at its share of `minutes`, then the article's."""
    family, _ = auto_family(data, FIRST * minutes)
    preset = FAMILIES.get(family).preset_for_budget(FIRST * minutes)
    return [(f"{family}-{preset}", family, preset, FIRST), *ARTICLE]


def demo(data: str = "fashion-mnist", minutes: float = 10.0, out: str | Path = "runs/demo", log=print) -> dict:
    """Train the plan into OUT/<name>, write grids, a report and a comparison; returns what it took."""
    out, runs = Path(out), plan(data, minutes)
    t0 = time.perf_counter()
    log(
        f"demo plan ({minutes:g} min on {data}): "
        + "; ".join(f"{name} {share * minutes:.1f} min" for name, _, _, share in runs)
        + f"; grids and pages {0.15 * minutes:.1f} min"
    )
    took = {}
    for name, family, preset, share in runs:
        t = time.perf_counter()
        cfg = resolve_config(
            family, preset, overrides={"data": {"source": data}, "train": {"minutes": share * minutes, "steps": None}}
        )
        step = Trainer(cfg, out / name, log=lambda s: None).fit()
        took[name] = (time.perf_counter() - t, step)
        log(f"{name}: {step} steps in {took[name][0] / 60:.1f} min")
    t = time.perf_counter()
    opened = []
    for name, *_ in runs:
        model = load(out / name)
        opened.append(write_samples(model, prior_samples(model, 64, seed=0)[0], out / name / "grid.png"))
    vae = load(out / "vae-article")
    if vae.latent_dim == 2:
        opened.append(write_samples(vae, manifold(vae), out / "vae-article" / "manifold.png", nrow=20))
    opened.append(write_report(out / runs[0][0]))
    opened.append(compare([out / name for name, *_ in runs], out / "compare.html")[0])
    took["grids and pages"] = (time.perf_counter() - t, None)
    total = time.perf_counter() - t0
    log(
        f"\ndemo done: planned {minutes:g} min, took {total / 60:.1f} min ("
        + ", ".join(f"{k} {v[0] / 60:.1f}" for k, v in took.items())
        + ")"
    )
    log("open:\n" + "\n".join(f"  {p}" for p in opened))
    log(f"serve them: genforge serve {out}")
    return {"planned_min": minutes, "took_min": total / 60, "parts": took, "files": [str(p) for p in opened]}
