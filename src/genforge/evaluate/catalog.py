"""Every metric genforge computes, registered with what it needs (see registry.py)."""

from __future__ import annotations

from functools import partial

import numpy as np

from . import metrics as M
from .registry import register_metric
from .usefulness import usefulness

FEATURES = ("features",)


def frechet(ctx, side, name: str) -> dict:
    return {name: M.fid(ctx.real_f, side.features, ctx.draws, ctx.seed)}


register_metric(
    "fid",
    modalities=("image",),
    needs=FEATURES,
    help="Frechet distance of extractor features (FID with a network trained on your data)",
)(partial(frechet, name="fid"))
register_metric(
    "fd",
    except_for=("image",),  # images report it as fid
    needs=FEATURES,
    help="Frechet distance in the embedding space of a network trained on your data (text, audio, ...) "
    "(for audio: FAD with a local network in place of VGGish)",
)(partial(frechet, name="fd"))


@register_metric("kid", needs=FEATURES, help="kernel (MMD^2) distance of extractor features; unbiased, floor ~0")
def kernel(ctx, side) -> dict:
    return {"kid": M.kid(ctx.real_f, side.features, seed=ctx.seed)}


@register_metric(
    "prdc",
    needs=FEATURES,
    better="higher",
    figures=("precision", "recall", "density", "coverage"),
    help="precision, recall, density, coverage with k-NN balls in feature space",
)
def prdc(ctx, side) -> dict:
    return M.prdc(ctx.real_f, side.features, seed=ctx.seed)


@register_metric(
    "classifier_score",
    needs=("probs",),
    better="higher",
    help="exp(E KL(p(y|x) || p(y))) with the data's classifier (Inception Score's analogue)",
)
def classifier_score(ctx, side) -> dict:
    return {"classifier_score": M.classifier_score(side.probs)}


@register_metric(
    "modified_is",
    needs=("probs",),
    better="higher",
    help="exp(E_i E_j KL(p(y|x_i) || p(y|x_j))) with the data's classifier: also falls when a class's samples repeat",
)
def modified_is(ctx, side) -> dict:
    return {"modified_is": M.modified_inception_score(side.probs)}


@register_metric(
    "class_histogram",
    needs=("probs",),
    better="higher",
    help="smallest ratio of a class's share of samples to its share of data (mode dropping)",
)
def class_histogram(ctx, side) -> dict:
    d = ctx.data
    shares = np.bincount(d.train_labels, minlength=d.n_classes) / len(d.train_labels)
    return {"class_histogram": M.class_histogram(side.probs, shares, d.class_names)}


@register_metric(
    "class_agreement",
    needs=("probs", "labels"),
    better="higher",
    help="conditional models: share of samples the data's classifier puts in the asked class",
)
def class_agreement(ctx, side) -> dict:
    return {"class_agreement": M.class_agreement(side.probs, side.labels)}


@register_metric(
    "memorization",
    floor=False,
    figures=("near_copy_share",),
    help="share of samples closer to a training item than 99% of held-out items are",
)
def memorization(ctx, side) -> dict:
    fig = M.memorization(side.memo, ctx.train_memo, ctx.threshold, seed=ctx.seed)
    if ctx.floors:  # the floor: the other half of the test split (the threshold came from the first)
        other = ctx.subset(ctx.data.tensor("test")[1::2], len(side.stored))
        floor = M.memorization(ctx.memo(other), ctx.train_memo, ctx.threshold, seed=ctx.seed)
        fig |= {"floor": floor["value"], "floor_interval": floor["interval"]}
    return {"near_copy_share": fig}


@register_metric(
    "usefulness",
    needs=("labels",),
    better="higher",
    floor=False,
    help="train a classifier on labelled samples, test on real (TSTR), beside training on real",
)
def useful(ctx, side) -> dict:
    return {"usefulness": usefulness(side.stored, side.labels, ctx.data, steps=ctx.train_steps, seed=ctx.seed)}


# Figures of held-out likelihood, computed by the family (Family.extra_figures).
for _name, _mods, _help in [
    (
        "nll_iw",
        ("image", "text", "video", "music", "shapes", "dialog"),
        "importance-weighted NLL bound on held-out data (exact for an LM)",
    ),
    ("elbo", ("image", "video", "shapes"), "evidence lower bound on held-out images (clips, shapes)"),
    ("bits_per_dim", ("image", "video", "shapes"), "NLL bound in bits per pixel (voxel)"),
    ("reconstruction_mse", ("image", "video", "shapes"), "mean squared error of reconstructions"),
    ("perplexity", ("text", "music", "dialog"), "exp(NLL per token) on held-out text (answers)"),
    ("kl", ("text", "music", "dialog"), "KL(q(z|x) || p(z)) per held-out sentence (answer: || p(z|question))"),
    ("mutual_info", ("text", "music"), "mutual information between sentences and latents"),
    (
        "active_units",
        ("image", "text", "video", "music", "shapes"),
        "latent dimensions whose posterior mean varies (Cov > 0.01)",
    ),
]:
    register_metric(
        _name,
        modalities=_mods,
        needs=("likelihood",),
        better="higher" if _name in ("elbo", "mutual_info", "active_units", "kl") else "lower",
        floor=False,
        help=_help,
    )(None)


# Computed from the model by evaluate_run (models with the `reconstruct` ability, labelled data).
register_metric(
    "reconstruction_accuracy",
    modalities=("image", "video", "shapes"),
    needs=("reconstruct",),
    better="higher",
    help="share of held-out images whose reconstruction the data's classifier labels correctly "
    "(floor: its accuracy on the originals): are reconstructions sharp enough to keep what the image is?",
)(None)
