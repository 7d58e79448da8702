"""The training loop shared by every family."""

from .trainer import Hook, Interrupted, Trainer, pick_device, train

__all__ = ["Hook", "Interrupted", "Trainer", "pick_device", "train"]
