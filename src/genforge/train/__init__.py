"""The training loop shared by every family."""

from .trainer import Diverged, Hook, Interrupted, Trainer, pick_device, train

__all__ = ["Diverged", "Hook", "Interrupted", "Trainer", "pick_device", "train"]
