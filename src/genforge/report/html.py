"""A self-contained HTML report of a run: `genforge report RUN` -> RUN/report.html.

Everything is embedded (PNG as base64 data URIs, CSS inline): the file opens
from disk with no server and no network. Sections appear as the run has the
material for them: scenario (data, config), training (curves, grids over time),
quality (eval.json with floors and intervals, per-class shares, memorization
pairs) and, for VAEs, reconstructions, latent traversals and the 2-D manifold.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG in memory
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..data import load_data, to_float, to_uint8  # noqa: E402
from ..errors import GenforgeError, RunError  # noqa: E402
from ..evaluate import eval_samples  # noqa: E402
from ..io import atomic_write, grid_png  # noqa: E402
from ..run import load  # noqa: E402
from ..sample import manifold, prior_samples, reconstructions  # noqa: E402

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.muted{color:#777}
figure{display:inline-block;margin:.4em;text-align:center;vertical-align:top}figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}img{image-rendering:pixelated}"""


def img_tag(png: bytes, alt: str, width: Optional[int] = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<img alt="{html.escape(alt)}"{w} src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


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


def _scenario(cfg, dataset: dict, data_report: Optional[dict], data) -> str:
    out = ["<h2 id='scenario'>Scenario</h2>"]
    rows = [["data", f"{dataset['name']} ({cfg.data.source})"], ["fingerprint", dataset["fingerprint"]],
            ["images", f"{dataset['n_train']} train / {dataset['n_test']} test, shape {dataset['shape']}"],
            ["split", dataset["split"]], ["model", f"{cfg.family}, preset {cfg.preset}"]]
    out.append(table(["", ""], rows))
    if data_report:
        counts = data_report["class_counts"]["train"]
        if counts:
            out.append(table(["class", "train images"], [[k, v] for k, v in counts.items()]))
        d = data_report["duplicates"]
        out.append(f"<p>Validation: {len(data_report['problems'])} unreadable file(s) skipped; "
                   f"{d['groups']} group(s) of identical images ({d['train_test_overlap']} across train/test).</p>")
        if data_report["problems"]:
            out.append(table(["skipped file", "reason"], [[p["path"], p["reason"]] for p in data_report["problems"][:20]]))
    if data is not None:
        out.append("<figure>" + img_tag(grid_png(data.train[:64]), "real training images") + "<figcaption>real training images</figcaption></figure>")
    out.append("<details><summary>resolved config</summary><pre>" + html.escape(json.dumps(cfg.model_dump(mode="json"), indent=2)) + "</pre></details>")
    return "\n".join(out)


def _training(run: Path) -> str:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return ""
    recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    train = [r for r in recs if "images_per_s" in r]
    evals = [r for r in recs if any(k.startswith("eval/") for k in r)]
    out = ["<h2 id='training'>Training</h2>"]
    if train:
        keys = [k for k in train[0] if k not in ("step", "epoch", "images_per_s", "elapsed_s")]
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
        steps = [r["step"] for r in train]
        for k in keys:
            axes[0].plot(steps, [r[k] for r in train], label=k)
        axes[0].set_xlabel("step"), axes[0].set_title("losses"), axes[0].legend()
        axes[1].plot(steps, [r["images_per_s"] for r in train])
        axes[1].set_xlabel("step"), axes[1].set_title("images / s")
        out.append(img_tag(fig_png(fig), "loss curves and throughput"))
        out.append(f"<p>{steps[-1]} steps in {train[-1]['elapsed_s']:.0f} s.</p>")
    if evals:
        fid = [(r["step"], r["eval/fid"]) for r in evals if "eval/fid" in r]
        if fid:
            fig, ax = plt.subplots(figsize=(5.5, 3.2))
            ax.plot(*zip(*fid), marker="o")
            ax.set_xlabel("step"), ax.set_title("FID during training (no floor)")
            out.append(img_tag(fig_png(fig), "FID during training"))
    grids = sorted((run / "samples").glob("step_*.png"))
    if grids:
        pick = grids if len(grids) <= 6 else [grids[int(i)] for i in np.linspace(0, len(grids) - 1, 6)]
        out.append("<p>Sample grids from fixed noise, over training:</p>")
        for g in pick:
            out.append(f"<figure>{img_tag(g.read_bytes(), g.stem, 220)}<figcaption>{g.stem.replace('_', ' ')}</figcaption></figure>")
    return "\n".join(out)


def _quality(run: Path, model, data) -> str:
    path = run / "eval.json"
    if not path.is_file():
        return ("<h2 id='quality'>Quality</h2><p class='muted'>No eval.json yet: run "
                f"<code>genforge evaluate {html.escape(str(run))}</code> and report again.</p>")
    ev = json.loads(path.read_text())
    rows = []
    for name, m in ev["metrics"].items():
        iv = m.get("interval")
        rows.append([name, fmt(m.get("value")), f"[{iv[0]:.4g}, {iv[1]:.4g}]" if iv else "", fmt(m.get("floor"))])
    out = ["<h2 id='quality'>Quality</h2>", table(["metric", "value", "interval", "real-data floor"], rows),
           f"<p class='muted'>{ev['n_fake']} samples vs {ev['n_real']} real; extractor {ev['extractor']['kind']} "
           f"{ev['extractor']['fingerprint']}; data {ev['data']['fingerprint']}.</p>"]
    hist = ev["metrics"].get("class_histogram")
    if hist:
        names = list(hist["per_class"])
        fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names)), 3))
        x = np.arange(len(names))
        ax.bar(x - 0.2, [hist["per_class"][n]["data"] for n in names], 0.4, label="data")
        ax.bar(x + 0.2, [hist["per_class"][n]["samples"] for n in names], 0.4, label="samples")
        ax.set_xticks(x, names, rotation=45, ha="right"), ax.legend(), ax.set_title("share per class")
        out.append(img_tag(fig_png(fig), "per-class shares") + f"<p>{html.escape(hist['note'])}</p>")
    mem = ev["metrics"].get("near_copy_share")
    if mem and model is not None and data is not None:
        # The samples evaluate_run drew, so indices in `closest` refer to them.
        idx = [c["sample"] for c in mem["closest"][:8]]
        fakes = eval_samples(model, ev["n_fake"], ev.get("seed", 0))[0][idx].permute(0, 2, 3, 1).numpy()
        reals = data.train[[c["train"] for c in mem["closest"][:8]]]
        pairs = np.stack([fakes, reals], 1).reshape(-1, *fakes.shape[1:])
        out.append("<p>Closest samples to the training set (sample, nearest training image), threshold "
                   f"{mem['threshold']:.3g}:</p>" + img_tag(grid_png(pairs, 8), "memorization pairs"))
    return "\n".join(out)


def _vae(model, data) -> str:
    if not hasattr(model, "encode") or data is None:
        return ""
    out = ["<h2 id='vae'>VAE</h2>", "<p>Test images (odd) and their reconstructions (even):</p>",
           img_tag(grid_png(reconstructions(model, 32), 16), "reconstructions")]
    y = data.labels("test", model.device)[:2000] if model.conditional else None
    with torch.no_grad():
        mu, _ = model.encode(to_float(data.tensor("test")[:2000]).to(model.device), y)
        dims = torch.argsort(mu.var(0), descending=True)[: min(8, model.latent_dim)]
        steps = torch.linspace(-3, 3, 9)
        z = torch.zeros(len(dims), 9, model.latent_dim)
        for row, d in enumerate(dims):
            z[row, :, d] = steps
        # a conditional VAE's traversals are of the first class
        y = model.labels(z.shape[0] * z.shape[1], label=0) if model.conditional else None
        trav = to_uint8(model.decode(z.flatten(0, 1).to(model.device), y)).permute(0, 2, 3, 1).cpu().numpy()
    out.append("<p>Latent traversals (-3..3) of the most active dimensions, one per row"
               + (f" (class {html.escape(str(model.dataset_info['class_names'][0]))})" if model.conditional else "") + ": "
               + ", ".join(str(int(d)) for d in dims) + "</p>" + img_tag(grid_png(trav, 9), "latent traversals"))
    if model.latent_dim == 2:
        out.append("<p>The 2-D latent manifold:</p>" + img_tag(grid_png(manifold(model, 15), 15), "manifold"))
    return "\n".join(out)


def write_report(run: str | Path, out: Optional[str | Path] = None) -> Path:
    """Write a self-contained report.html for a run directory; returns its path."""
    run = Path(run)
    model = load(run)
    cfg, dataset = model.run_config, model.dataset_info
    try:
        data = load_data(cfg.data)
    except GenforgeError:  # the data may be gone: report what the run itself holds
        data = None
    data_report = json.loads((run / "data.json").read_text()) if (run / "data.json").is_file() else None
    final = img_tag(grid_png(prior_samples(model, 64, seed=0)[0]), "samples")
    if model.conditional:  # one row per class, in the order of the names
        names = ", ".join(html.escape(str(c)) for c in dataset["class_names"])
        rows = np.concatenate([prior_samples(model, 8, seed=0, label=c)[0] for c in range(model.n_classes)])
        final += f"<p>8 samples of each class, one row per class ({names}):</p>" + img_tag(grid_png(rows, 8), "samples per class")
    body = [
        f"<h1>genforge run: {html.escape(run.name)}</h1>",
        f"<p class='muted'>{html.escape(str(run))}</p>",
        "<p><a href='#scenario'>scenario</a> · <a href='#training'>training</a> · <a href='#samples'>samples</a> · "
        "<a href='#quality'>quality</a>" + (" · <a href='#vae'>VAE</a>" if hasattr(model, "encode") else "") + "</p>",
        _scenario(cfg, dataset, data_report, data),
        _training(run),
        f"<h2 id='samples'>Samples</h2><p>64 samples, seed 0:</p>{final}",
        _quality(run, model, data),
        _vae(model, data),
    ]
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>genforge {html.escape(run.name)}</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    path = Path(out) if out else run / "report.html"
    if path.suffix != ".html":
        raise RunError(f"--out {path}: expected an .html file")
    atomic_write(path, page.encode())
    return path
