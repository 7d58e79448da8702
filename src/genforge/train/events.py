"""What the training loop reports to its caller: hooks it calls, and the ways a run stops early."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple, Optional

from ..errors import Interrupted, RunError


class Hook(NamedTuple):
    """Called every `every` steps with the trainer; a returned dict becomes a metrics.jsonl line."""

    every: int
    fn: Callable[..., Optional[dict]]  # trainer -> a metrics record or None


MAX_ROLLBACKS = 3
__all__ = ["Diverged", "Hook", "Interrupted", "MAX_ROLLBACKS", "interrupt_now"]


class Diverged(RunError):
    """A loss became NaN or infinite; the last checkpoint is kept as it was."""

    def __init__(self, run: Path, step: int, losses: list[str]):
        super().__init__(
            f"training diverged at step {step}: {', '.join(losses)} is not finite. The last checkpoint in {run} is "
            "kept; lower train.lr (or try model.spectral_norm / model.loss=hinge for a GAN), or set "
            "train.on_nan=rollback, and train again"
        )


def interrupt_now(signum, frame):
    """A signal handler that stops training as Ctrl-C does (torchrun stops the other processes with SIGTERM
    when one fails: each then writes what it can and says how to resume)."""
    raise KeyboardInterrupt
