"""The training loop shared by every family."""

from .events import Diverged, Hook, Interrupted
from .trainer import Trainer, pick_device, train

__all__ = ["Diverged", "Hook", "Interrupted", "Trainer", "pick_device", "train"]
