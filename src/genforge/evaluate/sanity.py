"""Proof that the figures mean something: `python -m genforge.evaluate.sanity --data digits`
(or `--data fortunes`, any source of any modality).

Feeds the metrics "samples" whose faults are known. Images: held-out real images
(the floor), real images blurred or noised at growing strength, real images from
half of the classes or from one class, and training images returned as samples.
Text: held-out lines (the floor), the same lines with their words shuffled,
random dictionary words of the same lengths, lines of one class only, one line
repeated, and training lines returned as samples. Audio: held-out clips (the floor), clips with
noise or low-pass filtering at growing strength, Griffin-Lim phase, one class, time-reversed clips, training
clips returned as samples. Video: held-out clips (the floor), the first frame frozen, frames in a random
order, blur and noise on every frame, one class, training clips returned as samples. Music: held-out melodies
(the floor), their pitches shuffled (rhythm kept), random pitches in the data's range, one melody repeated,
melodies two octaves up, one class, training melodies returned as samples. Shapes: held-out shapes (the
floor), voxels flipped at random, shapes eroded or dilated by a voxel, one shape repeated, one class, shapes
turned on their side, training shapes returned as samples. Dialog: held-out pairs (the floor), the answer of
the nearest training question (the retrieval baseline), answers moved to other questions, one generic answer
for all, the question echoed, training pairs. A trustworthy metric orders
them as expected; tests assert these orders. The columns are every registered
metric of the data's modality that needs no model.
"""

from __future__ import annotations

import argparse

import torch

from ..data.base import detect_modality
from ..modalities import MODALITIES
from .evaluate import evaluate_samples, parse_metrics
from .features import get_extractor, modality_for
from .registry import METRICS


def conditions(data, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """name -> stored 'samples' with a known fault, for the data's modality (each modality names its own)."""
    return modality_for(data).sanity_conditions(data, n, seed)


def sanity_table(data, n: int = 5000, seed: int = 0, extractor_steps=None, log=print) -> dict[str, dict]:
    """{condition: {figure: value}} over `conditions`, for every metric of the modality that needs no
    model (likelihood figures) and no sample labels."""
    ext = get_extractor(data, steps=extractor_steps, log=log)
    names = [
        m for m in parse_metrics(None, modality_for(data).name) if not {"likelihood", "labels"} & METRICS.get(m).needs
    ]
    rows = {}
    for name, items in conditions(data, n, seed).items():
        res = evaluate_samples(
            items, data, ext, names, n_real=n, floors=False, draws=3, seed=seed, train_steps=extractor_steps
        )
        rows[name] = {k: v["value"] for k, v in res["metrics"].items()} | {"n": len(items)}
    return rows


def format_table(rows: dict[str, dict]) -> str:
    cols = list(dict.fromkeys(k for r in rows.values() for k in r if k != "n"))
    lines = ["| samples | n | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['n']} | " + " | ".join(f"{r[c]:.4g}" if c in r else "" for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("-n", type=int, default=5000, help="samples per condition (at most the test split)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    mod = MODALITIES.get(detect_modality(args.data))
    data = mod.load(mod.DataConfig(source=args.data))
    print(f"data {data.name} ({data.fingerprint}); reference: {min(args.n, len(data.train))} training {mod.units}")
    print(format_table(sanity_table(data, args.n, args.seed)))


if __name__ == "__main__":
    main()
