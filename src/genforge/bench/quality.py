"""Time to quality: FID against training seconds, genforge's default DCGAN preset
against the plain eager article loop, same data.

    python -m genforge.bench.quality --arm default --minutes 5 --out runs/ttq/default.json
    python -m genforge.bench.quality --arm article --minutes 30 --out runs/ttq/article.json
    python -m genforge.bench.quality --report runs/ttq/article.json runs/ttq/default.json

Each arm trains on the data's training split and, every `--every` seconds of
training, draws `--samples` images and computes FID in the data's own feature
space (the evaluation extractor, cached). Evaluation time is kept off the
training clock. The report gives the whole curves and, for thresholds taken from
the first arm's curve, the training time at which each arm first reaches them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ..config import DataConfig
from ..data import load_data, to_float, to_uint8
from ..evaluate import evaluate_samples, get_extractor
from ..io import write_json
from ..run import build_model, resolve_config
from .throughput import plain_article_dcgan_step


def _arm(name: str, shape):
    """(step(x in [-1, 1]), batch, sample(n, seed) -> uint8 images) of an arm."""
    if name.startswith("article"):
        step, batch = plain_article_dcgan_step(bf16=name == "article-bf16")
        G = step.generator

        def sample(n, seed):
            G.eval()
            with torch.no_grad():
                out = G(torch.randn(n, 100, generator=torch.Generator().manual_seed(seed)))
            G.train()
            return to_uint8(out)

        return step, batch, sample
    cfg = resolve_config("dcgan", name)
    model = build_model(cfg, shape)
    opts = model.configure_optimizers(cfg.train)
    return (
        (lambda x: model.train_step(x, None, opts)),
        cfg.train.batch_size,
        (lambda n, seed: to_uint8(model.sample(n, seed=seed))),
    )


def run_arm(name: str, source: str, minutes: float, every: float, n_samples: int, seed: int = 0, log=print) -> dict:
    """Train one arm for `minutes` of training time; FID every `every` seconds of it."""
    torch.manual_seed(seed)
    data = load_data(DataConfig(source=source))
    ext = get_extractor(data, log=log)
    x_all = data.tensor("train")
    step, batch, sample = _arm(name, data.shape)
    curve, trained, steps, next_eval = [], 0.0, 0, 0.0
    gen = torch.Generator().manual_seed(seed)
    perm, pos = torch.randperm(len(x_all), generator=gen), 0
    while True:
        if trained >= next_eval:
            fid = evaluate_samples(
                sample(n_samples, seed + 1000), data, ext, ("fid",), n_real=10_000, floors=False, draws=3
            )["metrics"]["fid"]["value"]
            curve.append({"seconds": round(trained, 1), "steps": steps, "fid": round(fid, 4)})
            log(f"{name}: {trained / 60:.1f} min, step {steps}, FID {fid:.3f}")
            next_eval += every
            if trained >= minutes * 60:
                break
        if pos + batch > len(perm):
            perm, pos = torch.randperm(len(x_all), generator=gen), 0
        xb = to_float(x_all[perm[pos : pos + batch]])
        pos += batch
        t0 = time.perf_counter()
        step(xb)
        trained += time.perf_counter() - t0
        steps += 1
    return {
        "arm": name,
        "data": source,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "samples": n_samples,
        "curve": curve,
    }


def first_reach(curve: list[dict], threshold: float):
    """Training seconds at which a curve first reaches FID <= threshold (None if never)."""
    return next((p["seconds"] for p in curve if p["fid"] <= threshold), None)


def report(paths: list[str]) -> str:
    """Markdown: thresholds from the first arm's curve (its FID at each quarter of its run and at the end),
    and when every arm first reached each; then the curves."""
    arms = [json.loads(Path(p).read_text()) for p in paths]
    base = arms[0]["curve"]
    marks = sorted(
        {base[min(len(base) - 1, round(q * (len(base) - 1)))]["fid"] for q in (0.25, 0.5, 0.75, 1.0)}, reverse=True
    )
    fmt = lambda s: "not reached" if s is None else f"{s / 60:.1f} min"  # noqa: E731
    lines = ["| FID at most | " + " | ".join(a["arm"] for a in arms) + " |", "|---" * (len(arms) + 1) + "|"]
    for m in marks:
        lines.append(f"| {m:.3g} | " + " | ".join(fmt(first_reach(a["curve"], m)) for a in arms) + " |")
    for a in arms:
        pts = ", ".join(f"{p['seconds'] / 60:.1f} min: {p['fid']:.3g}" for p in a["curve"])
        lines.append(f"\n{a['arm']} (batch {a['batch']}, {a['threads']} threads, FID of {a['samples']} samples): {pts}")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--arm",
        choices=["article", "article-bf16", "default", "lean", "dcgan-paper"],
        help="the plain eager article loop (fp32 or bf16 autocast) or a genforge DCGAN preset",
    )
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--minutes", type=float, default=5.0, help="training time (evaluation excluded)")
    ap.add_argument("--every", type=float, default=30.0, help="seconds of training between FIDs")
    ap.add_argument("--samples", type=int, default=2000, help="samples per FID")
    ap.add_argument("--out", type=Path, help="write the curve here (JSON)")
    ap.add_argument("--report", nargs="+", metavar="JSON", help="print the table of curves written before")
    args = ap.parse_args(argv)
    if args.report:
        print(report(args.report))
        return
    if not args.arm:
        ap.error("give --arm (or --report)")
    res = run_arm(args.arm, args.data, args.minutes, args.every, args.samples)
    if args.out:
        write_json(args.out, res)
    print(json.dumps(res["curve"]))


if __name__ == "__main__":
    main()
