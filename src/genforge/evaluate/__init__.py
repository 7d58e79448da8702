"""Evaluation: feature extractors trained on the user's data, registered metrics with floors and intervals."""

from .evaluate import (
    eval_samples,
    evaluate_files,
    evaluate_run,
    evaluate_samples,
    format_eval,
    parse_metrics,
    training_hook,
)
from .features import Extractor, get_extractor
from .registry import METRICS, metrics_for

__all__ = [
    "METRICS",
    "eval_samples",
    "Extractor",
    "evaluate_files",
    "evaluate_run",
    "evaluate_samples",
    "format_eval",
    "get_extractor",
    "metrics_for",
    "parse_metrics",
    "training_hook",
]
