"""The overfitting watch: likelihood families stop before they memorise a small data set.

A seeded validation slice is held aside from the training split (the held-out test split stays untouched for
evaluation). Every `train.watch_every` steps the family's held-out loss on it (nats per item: a VAE's
one-sample negative ELBO, a language model's NLL) is measured; when `train.watch_patience` checks in a row
bring no new best, training stops and the weights of the best check are put back. On ten thousand sentences
the watch seldom fires within minutes; on a few hundred lines it is what keeps samples from being copies.
The best weights are kept in memory: a resumed run starts its watch afresh.
"""

from __future__ import annotations

import copy
from typing import Optional

import torch

MIN_ITEMS, MAX_ITEMS = 32, 1000  # validation items: enough for a stable mean, little taken from training


def validation_split(n: int, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, validation indices) of n training items: a seeded share, 32..1000 items, sorted."""
    k = min(max(MIN_ITEMS, round(share * n)), MAX_ITEMS, n // 4)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7919))
    return perm[k:].sort().values, perm[:k].sort().values


class OverfitWatch:
    """Follows the held-out loss of a validation slice; `stopped` once it has not improved for `patience` checks."""

    def __init__(self, x: torch.Tensor, y: Optional[torch.Tensor], patience: int, to_model, batch: int = 250):
        self.x, self.y, self.patience, self.to_model, self.batch = x, y, patience, to_model, batch
        self.best, self.best_step, self.best_state, self.misses = float("inf"), 0, None, 0

    @property
    def stopped(self) -> bool:
        return self.misses >= self.patience

    @torch.no_grad()
    def loss(self, model) -> float:
        """The family's mean held-out loss over the validation slice (eval mode, fixed noise)."""
        was = model.training
        model.eval()
        with torch.random.fork_rng(devices=[]):  # the check must not move the training noise stream
            torch.manual_seed(0)
            total = 0.0
            for i in range(0, len(self.x), self.batch):
                x = self.to_model(self.x[i : i + self.batch])
                y = None if self.y is None or not model.conditional else self.y[i : i + self.batch]
                total += float(model.held_out_loss(x, y)) * len(x)
        model.train(was)
        return total / len(self.x)

    def check(self, model, step: int) -> dict:
        """Measure at `step`; keep a copy of the weights when they are the best so far. Returns a metrics record."""
        value = self.loss(model)
        if value < self.best:
            self.best, self.best_step, self.misses = value, step, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.misses += 1
        return {"val_loss": round(value, 4), "val_best": round(self.best, 4)}

    def restore(self, model, step: int) -> str:
        """Put the best weights back; what was done, in a sentence for the log."""
        model.load_state_dict(self.best_state)
        return (
            f"stopped at step {step}: the validation loss ({len(self.x)} items held aside from training) has not "
            f"improved for {self.patience} checks since its best, {self.best:.2f} nats at step {self.best_step}; "
            f"the weights of step {self.best_step} are kept (train.watch_patience=0 trains on)"
        )


def watch_for(model, x: torch.Tensor, y: Optional[torch.Tensor], t, to_model):
    """(watch or None, training x, training y): a likelihood family's watch with its validation slice taken
    out of the training items, unless train.watch_patience is 0 or there are too few items."""
    if "likelihood" not in model.abilities or not t.watch_patience:
        return None, x, y
    keep, val = validation_split(len(x), t.validation, t.seed)
    if len(val) < 4:
        return None, x, y
    watch = OverfitWatch(x[val], None if y is None else y[val], t.watch_patience, to_model)
    return watch, x[keep], None if y is None else y[keep]
