"""Text-to-image on Fashion-MNIST's measured captions: does the picture say what the prompt says?

    python -m genforge.modalities.image.bench_text2image T2I_RUN [T2I_RUN ...] [--label-run CONDITIONAL_RUN] [-n 2000]

Each of the first n held-out captions ('a dark large ankle boot') is drawn once by the text2image run and, for
comparison, once by a label-conditional run (which is given the caption's class only), and the held-out
images themselves are scored the same way (the real-data reference). Figures:

- class: the Fashion-MNIST classifier of the evaluation (trained on the data's labels) names the prompt's class;
- brightness / size: the image measured as the captions were made (same per-class thresholds) gets the
  prompt's word (dark / bright, small / large, or none); chance is about 1/3;
- R-precision: among all distinct captions, the prompt scores best for its image (ties shared), with the
  score log p(class | image) + log 3 per attribute whose measured word matches: the classifier and the
  measurements, nothing the models trained with;
- spread: the mean distance between two images of the same caption in the evaluation's feature space,
  as a share of the held-out images' (1 = as varied as the data; near 0 = one picture per caption);
- FID of the samples against the held-out images, in the evaluation's feature space.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from ...evaluate import get_extractor
from ...evaluate.metrics import fid
from ...run import load
from .. import MODALITIES
from .captions import ATTRIBUTES, attribute_words, measure, thresholds
from .dataset import to_uint8


def parse_caption(text: str, class_names: list[str]) -> tuple[int, dict[str, int]]:
    """'a dark large ankle boot' -> (class 9, {'brightness': 0, 'size': 2}); 1 = no word for that attribute."""
    k = next(i for i, c in enumerate(class_names) if text.endswith(" " + c.lower()))
    words = set(text[: -len(class_names[k])].split())
    return k, {a: 0 if low in words else 2 if high in words else 1 for a, (low, high) in ATTRIBUTES.items()}


def scores(measured: dict, probs: torch.Tensor, cuts, captions: list[tuple[int, dict]]) -> torch.Tensor:
    """[N, K] retrieval scores of every image (its `measure` and class probabilities) against every caption."""
    n = len(probs)
    out = torch.zeros(n, len(captions))
    logp = probs.clamp(min=1e-8).log()
    for j, (k, words) in enumerate(captions):
        read = attribute_words(measured, np.full(n, k), cuts)  # the images read with the caption's class thresholds
        match = sum(torch.from_numpy(read[a] == w).float() for a, w in words.items())
        out[:, j] = logp[:, k] + math.log(3) * match
    return out


def figures(images: np.ndarray, ext, real_feats, cuts, captions, prompts: torch.Tensor) -> dict:
    """The figures of images [N, H, W, 1] drawn for caption indices `prompts` [N]."""
    feats, probs = ext.embed(torch.from_numpy(images).permute(0, 3, 1, 2))
    classes = torch.tensor([captions[p][0] for p in prompts])
    row = {"class": float((probs.argmax(1) == classes).float().mean())}
    measured = measure(images)
    words = attribute_words(measured, classes.numpy(), cuts)
    for a in ATTRIBUTES:
        row[a] = float(np.mean(words[a] == np.array([captions[p][1][a] for p in prompts])))
    s = scores(measured, probs, cuts, captions)
    true = s.gather(1, prompts[:, None])
    better, tied = (s > true).sum(1), (s == true).sum(1)  # tied counts the prompt itself
    row["R-precision"] = float(torch.where(better == 0, 1.0 / tied, 0.0).mean())
    row["spread"] = spread(feats, prompts)
    row["FID"] = fid(real_feats, feats, draws=2)["value"]
    return row


def spread(feats: torch.Tensor, prompts: torch.Tensor) -> float:
    """Mean over captions (with 2 or more images) of the mean pairwise feature distance of their images."""
    per = [torch.pdist(feats[prompts == p]).mean() for p in prompts.unique() if int((prompts == p).sum()) > 1]
    return float(torch.stack(per).mean())


@torch.no_grad()
def draw(model, labels: torch.Tensor, seed: int = 0) -> np.ndarray:
    """One sample per label (caption or class index) -> uint8 NHWC."""
    gen = torch.Generator().manual_seed(seed)
    z = model.prior(len(labels), gen)
    out = torch.cat([model.decode(zc, yc) for zc, yc in zip(z.split(500), labels.split(500))])
    return to_uint8(out).permute(0, 2, 3, 1).numpy()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="text2image runs trained on fashion-mnist-captions")
    ap.add_argument("--label-run", help="a label-conditional run on fashion-mnist, for comparison")
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args(argv)

    image = MODALITIES.get("image")
    plain = image.load(image.DataConfig(source="fashion-mnist"))
    captioned = image.load(image.DataConfig(source="fashion-mnist-captions"))
    cuts = thresholds(plain.train, plain.train_labels, plain.n_classes)
    captions = [parse_caption(c, plain.class_names) for c in captioned.class_names]
    prompts = captioned.labels("test")[: args.n]
    ext = get_extractor(plain, log=lambda s: None)
    real_feats = ext.embed(plain.tensor("test"))[0]
    rows = {"held-out images (reference)": captioned.test[: args.n]}
    for run in args.runs:
        rows[f"genforge text2image ({run})"] = draw(load(run), prompts)
    if args.label_run:
        classes = torch.tensor([captions[p][0] for p in prompts])
        labelled = load(args.label_run)
        rows[f"label-conditional {labelled.name} ({args.label_run})"] = draw(labelled, classes)
    print(f"{len(prompts)} held-out captions, {len(captions)} distinct; chance: class 0.1, brightness/size ~0.33\n")
    print("| images | class | brightness | size | R-precision | spread | FID |\n|---|---|---|---|---|---|---|")
    real_spread = None
    for name, images in rows.items():
        r = figures(images, ext, real_feats, cuts, captions, prompts)
        real_spread = real_spread or r["spread"]  # the held-out images come first
        cells = [f"{r[k]:.3f}" for k in ("class", "brightness", "size", "R-precision")]
        print(f"| {name} | {' | '.join(cells)} | {r['spread'] / real_spread:.2f} | {r['FID']:.3g} |")


if __name__ == "__main__":
    main()
