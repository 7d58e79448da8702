"""A self-contained HTML report of a tuning study (a folder with study.json):
optimization history, parameter importances, pruned / complete / failed trials,
the best trial and its confirmation over seeds."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import optuna

from ..io import atomic_write, fig_png, img_tag, read_json
from .html import CSS, fmt, table


def _history(trials: list[dict], objective: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.4))
    done = [t for t in trials if t["state"] == "COMPLETE"]
    ax.scatter([t["number"] for t in done], [t["value"] for t in done], label="complete")
    best, line = float("inf"), []
    for t in done:
        best = min(best, t["value"])
        line.append((t["number"], best))
    if line:
        ax.step(*zip(*line), where="post", color="C1", label="best so far")
    pruned = [t["number"] for t in trials if t["state"] == "PRUNED"]
    if pruned and done:
        top = max(t["value"] for t in done)
        ax.scatter(pruned, [top] * len(pruned), marker="x", color="grey", label="pruned (plotted at the top)")
    ax.set_xlabel("trial"), ax.set_ylabel(objective), ax.set_title("optimization history"), ax.legend()
    return fig_png(fig)


def _importances(summary: dict) -> str:
    try:
        study = optuna.load_study(study_name=summary["study"], storage=summary["storage"])
        imp = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, KeyError) as e:  # too few complete trials, or storage gone
        return f"<p class='muted'>Parameter importances unavailable: {html.escape(str(e))}</p>"
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(imp) + 1))
    names = list(imp)[::-1]
    ax.barh(names, [imp[n] for n in names])
    ax.set_title("parameter importance (fANOVA)")
    return img_tag(fig_png(fig), "parameter importances")


def write_study_report(folder: str | Path) -> Path:
    """Write FOLDER/report.html from FOLDER/study.json and the study's storage."""
    folder = Path(folder)
    summary = read_json(folder / "study.json")
    trials = summary["trials"]
    counts = {s: sum(t["state"] == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL")}
    best, conf = summary["best"], summary["confirmation"]
    obj = summary.get("objective", "fid")  # studies written before objectives were named minimised FID
    rows = [
        [
            t["number"],
            t["state"],
            fmt(t["value"]),
            ", ".join(f"{k}={v}" for k, v in t["params"].items()),
            t.get("error") or "",
        ]
        for t in trials
    ]
    body = [
        f"<h1>genforge study: {html.escape(summary['study'])}</h1>",
        f"<p class='muted'>{html.escape(summary['family'])} on {html.escape(summary['data'])}; storage "
        f"{html.escape(summary['storage'])}; {summary['minutes']} min in the last invocation; stopped by "
        f"{html.escape(summary['stopped_by'])}.</p>",
        "<h2 id='best'>Best trial</h2>",
        table(
            ["", ""],
            [
                ["trial", best["number"]],
                [obj, fmt(best["value"])],
                [
                    "confirmation over seeds " + ", ".join(map(str, conf["seeds"])),
                    f"{fmt(conf['mean'])} ± {fmt(conf['std'])} ({', '.join(fmt(v) for v in conf['fid'])})",
                ],
                ["final run", f"{summary['final']['run']} ({obj} {fmt(summary['final']['fid'])})"],
            ],
        ),
        "<pre>" + html.escape("\n".join(best["sets"])) + "</pre>",
        "<h2 id='history'>Optimization history</h2>",
        f"<p>{counts['COMPLETE']} complete, {counts['PRUNED']} pruned, {counts['FAIL']} failed.</p>",
        img_tag(_history(trials, obj), "optimization history"),
        "<h2 id='importance'>Parameter importance</h2>",
        _importances(summary),
        "<h2 id='trials'>Trials</h2>",
        table(["trial", "state", obj, "params", "error"], rows),
    ]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>genforge study {html.escape(summary['study'])}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    path = folder / "report.html"
    atomic_write(path, page.encode())
    return path
