"""Tuning: Optuna studies over declared search spaces, with pruning and stop rules."""

from .space import load_space
from .study import tune

__all__ = ["load_space", "tune"]
