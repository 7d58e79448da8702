"""A self-contained HTML report of a run: `genforge report RUN` -> RUN/report.html.

Everything is embedded (PNG as base64 data URIs, CSS inline): the file opens
from disk with no server and no network. Sections appear as the run has the
material for them: scenario (data, validation, config), training (curves,
previews over time), samples, quality (eval.json with floors and intervals,
per-class shares, memorization pairs) and, for families with a latent space,
reconstructions, traversals, interpolation paths and the 2-D manifold; voice models add their voices. How
samples look (grids, text tables) is the modality's; what is shown is asked of
the family's abilities.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG in memory
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..errors import GenforgeError, RunError  # noqa: E402
from ..evaluate import eval_samples  # noqa: E402
from ..io import atomic_write, fig_png, img_tag, read_json, read_metrics  # noqa: E402
from ..modalities import modality_of  # noqa: E402
from ..modalities.base import class_labels  # noqa: E402
from ..run import load  # noqa: E402
from ..sample import held_out, interpolate, interpolate_inputs, manifold, prior_samples, reconstructions, traverse  # noqa: E402
from .voices import voices_section  # noqa: E402

MAX_ROWS = 20  # class rows a report shows (captioned data sets have hundreds of "classes")
CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.muted{color:#777}
td.text{text-align:left;max-width:52em}
figure{display:inline-block;margin:.4em;text-align:center;vertical-align:top}figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em;white-space:pre-wrap}img{image-rendering:pixelated}"""


def table(header: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _scenario(cfg, dataset: dict, data_report: Optional[dict], data, mod) -> str:
    out = ["<h2 id='scenario'>Scenario</h2>"]
    rows = [
        ["data", f"{dataset['name']} ({cfg.data.source})"],
        ["fingerprint", dataset["fingerprint"]],
        [f"{mod.units}", f"{dataset['n_train']} train / {dataset['n_test']} test, shape {dataset['shape']}"],
        ["split", dataset["split"]],
        ["model", f"{cfg.family}, preset {cfg.preset}"],
    ]
    out.append(table(["", ""], rows))
    if data_report:
        counts = data_report["class_counts"]["train"]
        if counts:
            out.append(table(["class", f"train {mod.units}"], [[k, v] for k, v in counts.items()]))
        d = data_report.get("duplicates")  # a modality's report may leave out duplicates (only shared keys are owed)
        dup = (
            f"; {d['groups']} group(s) of identical {mod.units} ({d['train_test_overlap']} across train/test)"
            if d
            else ""
        )
        out.append(f"<p>Validation: {len(data_report['problems'])} unreadable input(s) skipped{dup}.</p>")
        if data_report["problems"]:
            out.append(
                table(["skipped input", "reason"], [[p["path"], p["reason"]] for p in data_report["problems"][:20]])
            )
        out.append(mod.data_figures(data_report))
    if data is not None:
        real = mod.to_samples(data.tensor("train")[: mod.preview_count], data.codec)
        out.append(mod.html(real, caption=f"real training {mod.units}"))
    out.append(
        "<details><summary>resolved config</summary><pre>"
        + html.escape(json.dumps(cfg.model_dump(mode="json"), indent=2))
        + "</pre></details>"
    )
    return "\n".join(out)


def _training(run: Path, mod) -> str:
    recs = read_metrics(run / "metrics.jsonl")
    if not recs:
        return ""
    rate_key = next((k for r in recs for k in r if k.endswith("_per_s")), None)
    train = [r for r in recs if rate_key in r]
    evals = [r for r in recs if any(k.startswith("eval/") for k in r)]
    out = ["<h2 id='training'>Training</h2>"]
    if train:
        keys = [k for k in train[0] if k not in ("step", "epoch", rate_key, "elapsed_s", "threads")]
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
        steps = [r.get("step", math.nan) for r in train]
        for k in keys:
            axes[0].plot(steps, [r.get(k, math.nan) for r in train], label=k)
        axes[0].set_xlabel("step"), axes[0].set_title("losses"), axes[0].legend()
        axes[1].plot(steps, [r[rate_key] for r in train])
        axes[1].set_xlabel("step"), axes[1].set_title(rate_key.replace("_per_s", " / s"))
        out.append(img_tag(fig_png(fig), "loss curves and throughput"))
        out.append(f"<p>{steps[-1]} steps in {train[-1].get('elapsed_s', math.nan):.0f} s.</p>")
    for key in sorted({k for r in evals for k in r if k.startswith("eval/") and k != "eval/n_fake"})[:1]:
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        pts = [(r["step"], r[key]) for r in evals if key in r and "step" in r]
        ax.plot(*zip(*pts), marker="o")
        ax.set_xlabel("step"), ax.set_title(f"{key[5:]} during training (no floor)")
        out.append(img_tag(fig_png(fig), f"{key} during training"))
    previews = sorted((run / "samples").glob(f"step_*{mod.preview_suffix}"))
    if previews:
        pick = previews if len(previews) <= 6 else [previews[int(i)] for i in np.linspace(0, len(previews) - 1, 6)]
        out.append("<p>Samples from fixed noise, over training:</p>")
        out += [mod.preview_html(p.read_bytes(), p.stem.replace("_", " ")) for p in pick]
    return "\n".join(out)


def _quality(run: Path, model, data, mod) -> str:
    path = run / "eval.json"
    if not path.is_file():
        return (
            "<h2 id='quality'>Quality</h2><p class='muted'>No eval.json yet: run "
            f"<code>genforge evaluate {html.escape(str(run))}</code> and report again.</p>"
        )
    ev = read_json(path)
    rows = []
    for name, m in ev["metrics"].items():
        iv = m.get("interval")
        rows.append([name, fmt(m.get("value")), f"[{iv[0]:.4g}, {iv[1]:.4g}]" if iv else "", fmt(m.get("floor"))])
    out = [
        "<h2 id='quality'>Quality</h2>",
        table(["metric", "value", "interval", "real-data floor"], rows),
        f"<p class='muted'>{ev['n_fake']} samples vs {ev.get('n_real')} real; extractor {ev['extractor']['kind']} "
        f"{ev['extractor']['fingerprint']}; data {ev['data']['fingerprint']}.</p>",
    ]
    kl = ev["metrics"].get("kl", {}).get("kl_per_dim") or ev["metrics"].get("active_units", {}).get("kl_per_dim")
    if kl:
        fig, ax = plt.subplots(figsize=(6, 2.6))
        ax.bar(range(len(kl)), kl)
        ax.set_xlabel("latent dimension"), ax.set_title("KL per latent dimension (held-out)")
        out.append(img_tag(fig_png(fig), "KL per dimension"))
    hist = ev["metrics"].get("class_histogram")
    if hist:
        names = list(hist["per_class"])
        fig, ax = plt.subplots(figsize=(max(5, 0.3 * len(names)), 3))
        x = np.arange(len(names))
        ax.bar(x - 0.2, [hist["per_class"][n]["data"] for n in names], 0.4, label="data")
        ax.bar(x + 0.2, [hist["per_class"][n]["samples"] for n in names], 0.4, label="samples")
        ax.set_xticks(x, names, rotation=60, ha="right"), ax.legend(), ax.set_title("share per class")
        out.append(img_tag(fig_png(fig), "per-class shares") + f"<p>{html.escape(hist['note'])}</p>")
    mem = ev["metrics"].get("near_copy_share")
    if mem and model is not None and data is not None:
        # The samples evaluate_run drew, so indices in `closest` refer to them.
        closest = mem["closest"][:8]
        fakes = eval_samples(model, ev["n_fake"], ev.get("seed", 0))[0][[c["sample"] for c in closest]]
        reals = data.tensor("train")[[c["train"] for c in closest]]
        pairs = mod.to_samples(torch.stack([fakes, reals], 1).flatten(0, 1), data.codec)
        out.append(
            f"<p>Closest samples to the training set (sample, nearest training {mod.unit}), threshold "
            f"{mem['threshold']:.3g}:</p>"
            + mod.html(pairs, 8, ["sample", "training"] * len(closest), caption="memorization pairs")
        )
    return "\n".join(out)


def _latent(model, data, mod) -> str:
    """Reconstructions, traversals, interpolation paths and the manifold, as the family's abilities allow."""
    ab = model.abilities
    if data is None or not ab & {"reconstruct", "traverse"}:
        return ""
    out = ["<h2 id='latent'>Latent space</h2>"]
    if "reconstruct" in ab:
        n = mod.preview_count // 2
        out.append(
            f"<p>Test {mod.units} and their reconstructions (from the posterior mean), in pairs:</p>"
            + mod.html(reconstructions(model, n, data=data), 16, ["original", "reconstruction"] * n)
        )
    if "traverse" in ab:
        y = data.labels("test", model.device)[:2000] if model.conditional else None
        with torch.no_grad():
            mu, _ = model.encode(mod.to_model(data.tensor("test")[:2000]).to(model.device), y)
        dims = torch.argsort(mu.var(0), descending=True)[: min(8, model.latent_dim)]
        label = 0 if model.conditional else None  # a conditional model's traversals are of the first class
        rows = mod.concat([traverse(model, 0, int(d), 9, label=label) for d in dims])
        out.append(
            "<p>Latent traversals (-3..3) of seed 0 along the most active dimensions, one per row"
            + (f" (class {html.escape(str(model.dataset_info['class_names'][0]))})" if model.conditional else "")
            + ": "
            + ", ".join(str(int(d)) for d in dims)
            + "</p>"
            + mod.html(rows, 9)
        )
    if "reconstruct" in ab:
        test = data.tensor("test")
        for a, b in ((0, 1), (2, 3)):
            path = interpolate_inputs(
                model,
                test[a : a + 1],
                test[b : b + 1],
                7,
                label=int(data.test_labels[a]) if model.conditional else None,
            )
            out.append(mod.html(path, 7, caption=f"A path between two held-out {mod.units}' posterior means:"))
    if "traverse" in ab and model.latent_dim == 2:
        out.append("<p>The 2-D latent manifold:</p>" + mod.html(manifold(model, 15), 15))
    return "\n".join(out)


def _held_out_rows(model, mod, n: int = 8) -> str:
    """A `from_data` model's rows: held-out items and what it makes of them (restorations, translations)."""
    samples, names, caption = held_out(model, n)
    return f"<p>{html.escape(caption)}</p>" + mod.html(samples, n, names)


def write_report(run: str | Path, out: Optional[str | Path] = None) -> Path:
    """Write a self-contained report.html for a run directory; returns its path."""
    run = Path(run)
    model = load(run)
    mod = modality_of(model)
    cfg, dataset = model.run_config, model.dataset_info
    try:
        data = mod.load(cfg.data, run)
    except GenforgeError:  # the data may be gone: report what the run itself holds
        data = None
    data_report = read_json(run / "data.json") if (run / "data.json").is_file() else None
    n = mod.preview_count
    samples, labels = prior_samples(model, n, seed=0)
    final = f"<p>{n} samples, seed 0:</p>" + mod.html(samples, labels=class_labels(labels, dataset.get("class_names")))
    if "interpolate" in model.abilities:
        final += mod.html(interpolate(model, 0, 1, 7), 7, caption="A path between the latents of seeds 0 and 1:")
    if model.conditional:  # one row per class, in the order of the names (the first MAX_ROWS of many captions)
        names = dataset["class_names"][:MAX_ROWS]
        k = max(1, n // 8)
        rows = mod.concat([prior_samples(model, k, seed=0, label=c)[0] for c in range(len(names))])
        shown = "" if len(names) == model.n_classes else f"the first {len(names)} of {model.n_classes}: "
        final += (
            f"<p>{k} samples of each class, one row per class ({shown}{html.escape(', '.join(map(str, names)))}):</p>"
            + mod.html(rows, k, [str(c) for c in names for _ in range(k)])
        )
    if "from_data" in model.abilities and data is not None:
        final += _held_out_rows(model, mod)
    latent = _latent(model, data, mod)
    voices = voices_section(model, data, mod) if "voice" in model.abilities else ""
    body = [
        f"<h1>genforge run: {html.escape(run.name)}</h1>",
        f"<p class='muted'>{html.escape(str(run))}</p>",
        "<p><a href='#scenario'>scenario</a> · <a href='#training'>training</a> · <a href='#samples'>samples</a> · "
        "<a href='#quality'>quality</a>"
        + (" · <a href='#latent'>latent space</a>" if latent else "")
        + (" · <a href='#voices'>voices</a>" if voices else "")
        + "</p>",
        _scenario(cfg, dataset, data_report, data, mod),
        _training(run, mod),
        f"<h2 id='samples'>Samples</h2>{final}",
        _quality(run, model, data, mod),
        latent,
        voices,
    ]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>genforge {html.escape(run.name)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    path = Path(out) if out else run / "report.html"
    if path.suffix != ".html":
        raise RunError(f"--out {path}: expected an .html file")
    atomic_write(path, page.encode())
    return path
