"""The audio figures that need no model of speech or pitch (speech.py and pitch.py hold those)."""

from ...evaluate import metrics as M
from ...evaluate.registry import register_metric


@register_metric(
    "sample_correlation",
    modalities=("audio",),
    help="mean |correlation| between pairs of sample waveforms: near 1 when a model repeats one sound",
)
def sample_correlation(ctx, side) -> dict:
    return {"sample_correlation": M.pairwise_correlation(ctx.modality.to_model(side.stored).flatten(1), seed=ctx.seed)}
