"""Time to quality: FID, recall and coverage against training minutes, genforge's DCGAN presets against
plain PyTorch loops (the article's, the textbook DCGAN), same data.

    python -m genforge.bench.quality --arm default --minutes 60 --out runs/ttq/default.json
    python -m genforge.bench.quality --arm textbook --minutes 60 --out runs/ttq/textbook.json
    python -m genforge.bench.quality --arm default --set train.lr=2e-4 --name default-lr2 --minutes 60 ...
    python -m genforge.bench.quality --report runs/ttq/textbook.json runs/ttq/default.json

Each arm trains on the data's training split and, at each mark (0.5, 1, 2, 5, 10, 20, 30, 45, 60 minutes up to
`--minutes`, or every `--every` seconds), draws `--samples` images, computes FID, recall and coverage in the
data's own feature space (the evaluation extractor, cached) and, with `--out`, saves their grid beside the JSON.
The clock counts training only, in CPU time of the process by default (`--clock cpu`: on a shared machine
another job slows the wall clock, not the curve; with one thread it is CPU-minutes) or wall time. The report
gives the whole curves and, for thresholds taken from the first arm's curve, the training time at which each
arm first reaches them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Optional

import torch

from ..evaluate import evaluate_samples, get_extractor
from ..io import save_grid, write_json
from ..modalities.image.dataset import load_data, to_float, to_uint8
from ..modalities.image.modality import ImageDataConfig
from ..models.dcgan import DCGAN
from ..run import build_model, resolve_config
from .throughput import plain_article_dcgan_step, textbook_dcgan_step

MARKS_MINUTES = (0.5, 1, 2, 5, 10, 20, 30, 45, 60)
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def _plain_sampler(G):
    """sample(n, seed) -> uint8 images of a plain loop's generator (z [n, 100])."""

    def sample(n, seed):
        G.eval()
        with torch.no_grad():
            out = G(torch.randn(n, 100, generator=torch.Generator().manual_seed(seed)))
        G.train()
        return to_uint8(out)

    return sample


def _arm(name: str, shape, sets: tuple[str, ...] = ()):
    """(step(x in [-1, 1]), batch, sample(n, seed) -> uint8 images) of an arm."""
    if name.startswith("article") or name == "textbook":
        step, batch = (
            textbook_dcgan_step() if name == "textbook" else plain_article_dcgan_step(bf16=name == "article-bf16")
        )
        return step, batch, _plain_sampler(step.generator)
    cfg = resolve_config("dcgan", name, sets=list(sets))
    model = build_model(cfg, shape)
    opts = model.configure_optimizers(cfg.train)
    return (
        (lambda x: model.train_step(x, None, opts)),
        cfg.train.batch_size,
        (lambda n, seed: to_uint8(model.sample(n, seed=seed))),
    )


def marks_for(minutes: float, every: Optional[float] = None) -> list[float]:
    """Training seconds at which to evaluate: every `every` seconds, else MARKS_MINUTES up to `minutes`;
    always 0 and the end."""
    end = minutes * 60
    inner = [i * every for i in range(1, int(end // every) + 1)] if every else [m * 60 for m in MARKS_MINUTES]
    return sorted({0.0, end, *(t for t in inner if t < end)})


def run_arm(
    name: str,
    source: str,
    minutes: float,
    every: Optional[float],
    n_samples: int,
    seed: int = 0,
    sets: tuple[str, ...] = (),
    label: Optional[str] = None,
    clock: str = "cpu",
    out: Optional[Path] = None,
    log=print,
) -> dict:
    """Train one arm for `minutes` of training time on `clock`; FID, recall and coverage at each mark. With
    `out`, the curve so far is written there (JSON) after every mark, and each mark's grid beside it."""
    torch.manual_seed(seed)
    label = label or name
    data = load_data(ImageDataConfig(source=source))
    ext = get_extractor(data, log=log)
    x_all = data.tensor("train")
    step, batch, sample = _arm(name, data.shape, sets)
    now = CLOCKS[clock]
    curve, trained, steps, marks = [], 0.0, 0, marks_for(minutes, every)
    result = {
        "arm": label,
        "preset": name,
        "sets": list(sets),
        "data": source,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "clock": clock,
        "samples": n_samples,
        "seed": seed,
        "curve": curve,
    }
    gen = torch.Generator().manual_seed(seed)
    perm, pos = torch.randperm(len(x_all), generator=gen), 0
    while marks:
        if trained >= marks[0]:
            marks.pop(0)
            fake = sample(n_samples, seed + 1000)
            m = evaluate_samples(fake, data, ext, ("fid", "prdc"), n_real=10_000, floors=False, draws=3)["metrics"]
            point = {"seconds": round(trained, 1), "steps": steps}
            point |= {k: round(m[k]["value"], 4) for k in ("fid", "recall", "coverage")}
            curve.append(point)
            log(
                f"{label}: {trained / 60:.1f} min, step {steps}, "
                + ", ".join(f"{k} {point[k]:.3f}" for k in m if k in point)
            )
            if out is not None:
                write_json(out, result)
                grid = out.with_suffix("") / f"{label}-{trained / 60:05.1f}min.png"
                save_grid(grid, fake[:64].permute(0, 2, 3, 1).numpy(), nrow=8)
            continue
        if pos + batch > len(perm):
            perm, pos = torch.randperm(len(x_all), generator=gen), 0
        xb = to_float(x_all[perm[pos : pos + batch]])
        pos += batch
        t0 = now()
        step(xb)
        trained += now() - t0
        steps += 1
    return result


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
        extra = lambda p: "".join(f" / {p[k]:.3g}" for k in ("recall", "coverage") if k in p)  # noqa: E731
        pts = ", ".join(f"{p['seconds'] / 60:.1f} min: {p['fid']:.3g}{extra(p)}" for p in a["curve"])
        what = "FID / recall / coverage" if "recall" in a["curve"][0] else "FID"
        clock = a.get("clock", "wall")
        lines.append(
            f"\n{a['arm']} (batch {a['batch']}, {a['threads']} threads, {clock} clock, {what} of {a['samples']} "
            f"samples): {pts}"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--arm",
        choices=list(dict.fromkeys(["article", "article-bf16", "textbook", *DCGAN.presets])),
        help="a plain eager loop (the article's in fp32 or bf16 autocast, the textbook DCGAN) or a DCGAN preset "
        "(`article` is the plain loop: the same mathematics as the preset)",
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a preset's config")
    ap.add_argument("--name", help="the arm's label (default: --arm)")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu", help="CPU time of the process, or wall time")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--minutes", type=float, default=5.0, help="training time (evaluation excluded)")
    ap.add_argument("--every", type=float, help="seconds of training between evaluations (default: the marks)")
    ap.add_argument("--samples", type=int, default=2000, help="samples per FID")
    ap.add_argument("--seed", type=int, default=0, help="seeds the initial weights, the data order and the samples")
    ap.add_argument("--out", type=Path, help="write the curve here (JSON)")
    ap.add_argument("--report", nargs="+", metavar="JSON", help="print the table of curves written before")
    args = ap.parse_args(argv)
    if args.report:
        print(report(args.report))
        return
    if not args.arm:
        ap.error("give --arm (or --report)")
    res = run_arm(
        args.arm,
        args.data,
        args.minutes,
        args.every,
        args.samples,
        seed=args.seed,
        sets=tuple(args.set),
        label=args.name,
        clock=args.clock,
        out=args.out,
    )
    print(json.dumps(res["curve"]))


if __name__ == "__main__":
    main()
