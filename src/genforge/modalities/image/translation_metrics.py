"""Figures of an unpaired translation model (the `translate` ability), per direction, beside baselines.

For a2b, every held-out A image (up to n) is translated to B and back. Each figure stands beside:
- `floor`: what held-out real B images score (the figure of a perfect translator's outputs' distribution);
- `identity`: the A images returned untranslated (a model that does nothing);
- `nearest`: for each A image, the training B image nearest to it in pixels (a model that retrieves instead
  of translating: realistic and of the right domain, but a copy).

    fid_*             FID of the translations against training images of the target domain
    domain_agreement_* share the data's classifier (trained on the two domains) puts in the target domain
    content_*         feature distance from each input to its translation, over that from inputs to random
                      held-out target images (1: nothing of the input kept; 0: the input itself)
    content_px_*      the same in pixels (mean absolute difference): the features are those of a domain
                      classifier, which sees the domain more than the layout; pixels see the layout
    cycle_error_*     mean absolute pixel error of translating there and back (pixels in [-1, 1])
    target_copies_*   share of translations closer to a training image of the target domain than 99% of
                      held-out target images are (near copies of the target's training set)
"""

from __future__ import annotations

from typing import Sequence

import torch

from ...evaluate import metrics as M
from ...evaluate.registry import register_metric
from .. import modality_of

DIRECTIONS = {"a2b": (0, 1), "b2a": (1, 0)}
FIGURES = {
    "fid": ("lower", "FID of translations against the target domain's training images"),
    "domain_agreement": ("higher", "share of translations the data's domain classifier puts in the target domain"),
    "content": ("lower", "input-to-translation feature distance over input-to-random-target distance"),
    "content_px": ("lower", "input-to-translation pixel distance over input-to-random-target distance"),
    "cycle_error": ("lower", "mean absolute pixel error of translating there and back"),
    "target_copies": ("lower", "share of translations that are near copies of target-domain training images"),
}
for _name, (_better, _help) in FIGURES.items():  # figures of the model, computed by evaluate_run
    register_metric(
        f"translation_{_name}",
        modalities=("image",),
        needs=("translate",),
        better=_better,
        floor=False,
        help=_help + " (translation models; beside identity and nearest-neighbour baselines)",
        figures=tuple(f"{_name}_{d}" for d in DIRECTIONS),
    )(None)


def _distance(a: torch.Tensor, b: torch.Tensor, pixels: bool) -> torch.Tensor:
    """Mean distance between paired rows: mean absolute difference (pixels) or L2 (features)."""
    return (a - b).abs().mean() if pixels else (a - b).norm(dim=1).mean()


@torch.no_grad()
def translation_figures(model, data, ext, names: Sequence[str], n: int = 2000, seed: int = 0) -> dict:
    """The figures of `names` (metric names `translation_*`) for both directions of `model` on `data`'s held-out
    images, embedded by `ext`; each {"value", "floor", "identity", "nearest", "n", "note"}."""
    if not any(f"translation_{name}" in names for name in FIGURES):
        return {}  # none asked for: translating and embedding the held-out images would be wasted
    out = {}
    for direction, (src, tgt) in DIRECTIONS.items():
        figs = _direction(model, data, ext, names, src, tgt, n, seed)
        for fig in figs.values():
            fig["note"] = ", ".join(f"{k} {fig[k]:.4g}" for k in ("identity", "nearest") if k in fig)
        out |= {f"{name}_{direction}": fig for name, fig in figs.items()}
    return out


def _direction(model, data, ext, names: Sequence[str], src: int, tgt: int, n: int, seed: int) -> dict:
    """{figure: {"value", "floor", "identity", "nearest", "n"}} of translating domain `src` into `tgt`."""
    mod = modality_of(model)
    test, test_y = data.tensor("test"), data.labels("test")
    inputs, real_tgt = test[test_y == src][:n], test[test_y == tgt]
    train_tgt = data.tensor("train")[data.labels("train") == tgt]
    x = mod.to_model(inputs).to(model.device)
    moved, back = model.round_trip(x, tgt)
    translated = mod.to_stored(moved).cpu()
    f_train, p_train = ext.embed(train_tgt)
    (f_in, p_in), (f_out, p_out), (f_real, p_real) = ext.embed(inputs), ext.embed(translated), ext.embed(real_tgt)
    px_in, px_train = mod.memo_vectors(inputs), mod.memo_vectors(train_tgt)
    nearest = M.nearest_distances(px_in, px_train)[1]
    f_near, p_near = f_train[nearest], None if p_train is None else p_train[nearest]
    sides = {"value": (translated, f_out, p_out), "floor": (real_tgt, f_real, p_real)}
    sides |= {"identity": (inputs, f_in, p_in), "nearest": (train_tgt[nearest], f_near, p_near)}
    # content's yardstick: each input against a random held-out image of the target domain
    pick = torch.randint(len(real_tgt), (len(inputs),), generator=torch.Generator().manual_seed(seed))
    base_f, base_px = _distance(f_in, f_real[pick], False), _distance(px_in, mod.memo_vectors(real_tgt[pick]), True)
    threshold = M.held_out_threshold(mod.memo_vectors, real_tgt, px_train)
    figures = {  # (stored items, features, class probabilities) -> the figure
        "fid": lambda s, f, p: M.fid(f_train, f, draws=2, seed=seed)["value"],
        "domain_agreement": lambda s, f, p: None if p is None else (p.argmax(1) == tgt).double().mean().item(),
        "content": lambda s, f, p: float(_distance(f, f_in, False) / base_f),
        "content_px": lambda s, f, p: float(_distance(mod.memo_vectors(s), px_in, True) / base_px),
        "target_copies": lambda s, f, p: M.memorization(mod.memo_vectors(s), px_train, threshold)["value"],
    }
    out = {}
    for name, fn in figures.items():
        if f"translation_{name}" in names:
            # content: the floor's held-out target images have no input of their own
            fig = {k: fn(*v) for k, v in sides.items() if not (name.startswith("content") and k == "floor")}
            if None not in fig.values():  # (no classifier: no domain agreement)
                out[name] = fig | {"n": len(inputs)}
    if "translation_cycle_error" in names:
        out["cycle_error"] = {"value": float((back - x).abs().mean()), "identity": 0.0, "n": len(inputs)}
    return out
