"""Tuning: Optuna studies over declared search spaces, with pruning and stop rules."""

from .space import DEFAULT_SPACES, load_space
from .study import tune

__all__ = ["DEFAULT_SPACES", "load_space", "tune"]
