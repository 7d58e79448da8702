"""The training loop shared by every family."""

from .trainer import Interrupted, Trainer, pick_device, train

__all__ = ["Interrupted", "Trainer", "pick_device", "train"]
