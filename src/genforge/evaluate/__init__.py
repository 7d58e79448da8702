"""Evaluation: feature extractors trained on the user's data, metrics with floors and intervals."""

from .evaluate import METRICS, eval_samples, evaluate_files, evaluate_images, evaluate_run, format_eval, parse_metrics, training_hook
from .features import Extractor, get_extractor

__all__ = ["METRICS", "eval_samples", "Extractor", "evaluate_files", "evaluate_images", "evaluate_run", "format_eval", "get_extractor", "parse_metrics", "training_hook"]
