"""`genforge compare RUN [RUN ...]`: runs side by side, as one self-contained page and a terminal table.

Only what differs is shown of the configs; eval figures stand side by side with their
floors and intervals, the best of each row marked; training curves are overlaid; the
same seed's samples stand side by side. Runs of different modalities, data sets
(fingerprints) or feature extractors are refused: their figures do not compare.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Optional

import matplotlib.pyplot as plt

from ..errors import RunError
from ..evaluate.registry import METRICS
from ..io import atomic_write, fig_png, img_tag, read_json, read_metrics
from ..modalities import modality_of
from ..run import load, read_status
from ..sample import prior_samples
from .html import CSS, fmt, table


def flatten(d: dict, prefix: str = "") -> dict:
    """{'train': {'lr': 1}} -> {'train.lr': 1}."""
    out = {}
    for k, v in d.items():
        out |= flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def config_diff(configs: list[dict]) -> dict[str, list]:
    """Keys whose values differ between the configs -> their values, run by run."""
    flat = [flatten({k: v for k, v in c.items() if k != "dataset"}) for c in configs]
    keys = sorted(set().union(*flat))
    return {k: [f.get(k) for f in flat] for k in keys if len({json.dumps(f.get(k)) for f in flat}) > 1}


def _better(figure: str) -> Optional[str]:
    for m in METRICS.values():
        if figure in m.figures:
            return m.better
    return None


def eval_rows(evals: list[Optional[dict]]) -> list[dict]:
    """One row per figure: values (and intervals) run by run, the floor, the index of the best run."""
    names = list(dict.fromkeys(n for e in evals if e for n in e["metrics"]))
    rows = []
    for name in names:
        figs = [e["metrics"].get(name) if e else None for e in evals]
        values = [f.get("value") if f else None for f in figs]
        floor = next((f.get("floor") for f in figs if f and f.get("floor") is not None), None)
        better, present = _better(name), [(v, i) for i, v in enumerate(values) if isinstance(v, (int, float))]
        best = None
        if better and len(present) > 1:
            best = (min if better == "lower" else max)(present)[1]
        rows.append(
            {
                "figure": name,
                "values": values,
                "intervals": [f.get("interval") if f else None for f in figs],
                "floor": floor,
                "best": best,
            }
        )
    return rows


def check_comparable(names: list[str], models, evals: list[Optional[dict]]) -> None:
    """Raise RunError naming the runs whose modality, data or extractor differ from the first run's."""
    mods = {n: m.modality for n, m in zip(names, models)}
    if len(set(mods.values())) > 1:
        raise RunError(f"runs of different modalities do not compare: {mods}")
    keyed = [(n, e["data"]["fingerprint"], e["extractor"]["fingerprint"]) for n, e in zip(names, evals) if e]
    for key, what in ((1, "data fingerprint"), (2, "feature extractor")):
        if len({k[key] for k in keyed}) > 1:
            listing = ", ".join(f"{k[0]}: {k[key]}" for k in keyed)
            raise RunError(
                f"these evaluations are not comparable, their {what}s differ ({listing}); evaluate "
                "them against the same data with the same extractor (genforge evaluate RUN)"
            )


def _curves(runs: list[Path], names: list[str]) -> str:
    recs = [[x for x in read_metrics(r / "metrics.jsonl") if "elapsed_s" in x and "step" in x] for r in runs]
    keys = [
        k
        for k in dict.fromkeys(k for rs in recs for r in rs for k in r)
        if k.startswith(("loss", "recon", "kl", "eval/fid", "eval/fd")) and not k.endswith("n_fake")
    ]
    if not keys:
        return ""
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, rs in zip(names, recs):
            pts = [(r["step"], r[key]) for r in rs if key in r]
            if pts:
                ax.plot(*zip(*pts), label=name)
        ax.set_title(key), ax.set_xlabel("step"), ax.legend(fontsize=7)
    return img_tag(fig_png(fig), "training curves")


def compare(runs: list[str | Path], out: Optional[str | Path] = None, n: Optional[int] = None) -> tuple[Path, str]:
    """Write the comparison page (default: compare.html in the first run's parent) and return it with the
    terminal table."""
    if len(runs) < 2:
        raise RunError("compare needs at least two run directories")
    runs = [Path(r) for r in runs]
    names = [r.name if [x.name for x in runs].count(r.name) == 1 else str(r) for r in runs]
    models = [load(r) for r in runs]
    evals = [read_json(r / "eval.json") if (r / "eval.json").is_file() else None for r in runs]
    check_comparable(names, models, evals)
    configs = [read_json(r / "config.json") for r in runs]
    diff = config_diff(configs)
    rows = eval_rows(evals)

    def cell(row, i):
        v, iv = row["values"][i], row["intervals"][i]
        text = "-" if v is None else fmt(v) + (f" [{iv[0]:.3g}, {iv[1]:.3g}]" if iv else "")
        return text + (" *" if row["best"] == i else "")

    eval_table = [[r["figure"], *(cell(r, i) for i in range(len(runs))), fmt(r["floor"])] for r in rows]
    status = [read_status(r)["state"] for r in runs]
    mod = modality_of(models[0])
    n = n or mod.preview_count // 2
    samples = "".join(
        f"<figure><figcaption>{html.escape(name)}</figcaption>{mod.html(prior_samples(m, n, seed=0)[0])}</figure>"
        for name, m in zip(names, models)
    )
    body = [
        f"<h1>genforge: {len(runs)} runs compared</h1>",
        "<h2>Runs</h2>",
        table(["", *names], [["status", *status], ["family", *(m.name for m in models)]]),
        "<h2>Config differences</h2>",
        table(["key", *names], [[k, *map(json.dumps, v)] for k, v in diff.items()]) if diff else "<p>identical</p>",
        "<h2>Quality</h2><p>* marks the best run of each row.</p>",
        table(["figure", *names, "real-data floor"], eval_table) if rows else "<p>No run has an eval.json yet.</p>",
        "<h2>Training</h2>",
        _curves(runs, names),
        f"<h2>Samples</h2><p>The same seed (0) for every run, {n} samples each.</p>",
        samples,
    ]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>genforge compare</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    path = Path(out) if out else runs[0].parent / "compare.html"
    if path.suffix != ".html":
        raise RunError(f"--out {path}: expected an .html file")
    atomic_write(path, page.encode())
    width = max([len("figure"), *(len(k) for k in diff), *(len(r["figure"]) for r in rows)])
    cols = [max(len(nm), 14) for nm in names]
    head = "".ljust(width) + "  " + "  ".join(nm.ljust(c) for nm, c in zip(names, cols)) + "  floor"
    lines = [head] + [
        k.ljust(width) + "  " + "  ".join(json.dumps(v)[:c].ljust(c) for v, c in zip(vals, cols))
        for k, vals in diff.items()
    ]
    lines += [
        r["figure"].ljust(width)
        + "  "
        + "  ".join(
            (("-" if v is None else fmt(v)) + (" *" if r["best"] == i else "")).ljust(c)
            for i, (v, c) in enumerate(zip(r["values"], cols))
        )
        + "  "
        + fmt(r["floor"])
        for r in rows
    ]
    return path, "\n".join(lines)
