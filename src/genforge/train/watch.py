"""The overfitting watches: a family stops before it memorises a small data set, and says so.

A seeded validation slice is held aside from the training split (the held-out test split stays untouched for
evaluation). Every `train.watch_every` steps (by default an epoch of 20 to 200 steps for a loss, an epoch of at
least 2,000 steps for samples) the watch measures the model against it:

- likelihood families (VAEs, language models): the held-out loss of the slice (nats per item: a VAE's
  one-sample negative ELBO, a language model's NLL). A check is good when it is a new best.
- sampling families without a likelihood (GANs, the spectrogram VAE): the near-copy share of 128 samples of a
  fixed seed, i.e. the share closer to a training item (in the modality's memorization space) than the closest
  1% of the slice's items are. A check is good when the share is at most `train.copy_limit`, or 5 / the slice's
  size when that is more (a small slice cannot place its 1% finer than one item).

When `train.watch_patience` checks in a row are not good, training stops and the weights of the last good check
are put back. On ten thousand items the watches seldom fire within minutes; on a few hundred they are what keeps
samples from being copies. Good weights are kept in memory: a resumed run starts its watch afresh.
"""

from __future__ import annotations

import copy
from typing import Optional

import torch

from ..evaluate.metrics import memorization, near_copy_threshold

MIN_ITEMS, MAX_ITEMS = 32, 1000  # validation items: enough for a stable mean, little taken from training
QUANTILE = 0.01  # a near copy is closer to a training item than this share of the validation slice's items are
COPY_SAMPLES = 128  # samples per near-copy check: 1 in 128 resolution, a second or two of sampling
MAX_COPY_ITEMS = 5_000  # more training items: memorising them within a CPU budget is not the risk, and their
# memorization vectors (pixels, log-mel spectrograms) would take too much memory to hold through training


def validation_split(n: int, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, validation indices) of n training items: a seeded share, 32..1000 items, sorted."""
    k = min(max(MIN_ITEMS, round(share * n)), MAX_ITEMS, n // 4)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7919))
    return perm[k:].sort().values, perm[:k].sort().values


class Watch:
    """A verdict per check; the weights of the last good check kept; `stopped` after `patience` bad checks."""

    def __init__(self, patience: int):
        self.patience, self.good_step, self.good_state, self.misses = patience, 0, None, 0

    @property
    def stopped(self) -> bool:
        return self.misses >= self.patience

    def every(self, steps_per_epoch: int) -> int:
        """Steps between checks unless train.watch_every says otherwise."""
        raise NotImplementedError

    def measure(self, model) -> tuple[dict, bool]:
        """(metrics record, whether this check is good) for the model's current weights."""
        raise NotImplementedError

    def why(self) -> str:
        """What the watch saw, for the sentence the log and status.json keep."""
        raise NotImplementedError

    def check(self, model, step: int) -> dict:
        """Measure at `step`; keep a copy of the weights when the check is good. Returns a metrics record."""
        record, good = self.measure(model)
        if good:
            self.good_step, self.misses = step, 0
            self.good_state = copy.deepcopy(model.state_dict())
        else:
            self.misses += 1
        return record

    def restore(self, model, step: int) -> str:
        """Put the last good weights back; what was done, in a sentence for the log."""
        if self.good_state is None:
            return f"stopped at step {step}: {self.why()}; no check was good, so the last weights are kept"
        model.load_state_dict(self.good_state)
        return (
            f"stopped at step {step}: {self.why()}; the weights of step {self.good_step} are kept "
            "(train.watch_patience=0 trains on)"
        )


class LossWatch(Watch):
    """Follows the held-out loss of a validation slice; a check is good when it is a new best."""

    def __init__(self, x: torch.Tensor, y: Optional[torch.Tensor], patience: int, to_model, batch: int = 250):
        super().__init__(patience)
        self.x, self.y, self.to_model, self.batch = x, y, to_model, batch
        self.best = float("inf")

    def every(self, steps_per_epoch: int) -> int:
        return min(max(steps_per_epoch, 20), 200)  # small data: once an epoch

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

    def measure(self, model) -> tuple[dict, bool]:
        value = self.loss(model)
        good = value < self.best
        self.best = min(self.best, value)
        return {"val_loss": round(value, 4), "val_best": round(self.best, 4)}, good

    def why(self) -> str:
        return (
            f"the validation loss ({len(self.x)} items held aside from training) has not improved for "
            f"{self.patience} checks since its best, {self.best:.2f} nats at step {self.good_step}"
        )


class CopyWatch(Watch):
    """Follows the near-copy share of a fixed seed's samples; a check is good when it is at most `limit`."""

    def __init__(self, val: torch.Tensor, train: torch.Tensor, patience: int, limit: float, modality, codec):
        super().__init__(patience)
        self.modality, self.codec, self.n_val = modality, codec, len(val)
        self.train_memo = self.memo(train)
        self.threshold = near_copy_threshold(self.memo(val), self.train_memo, QUANTILE)
        # A slice of n items cannot place a quantile finer than 1/n: with 25 items the threshold sits near their
        # closest one, and real held-out items would score about 4%. The limit stays 5x above that resolution.
        self.limit = max(limit, 5 * max(QUANTILE, 1 / len(val)))
        self.share = 0.0

    def every(self, steps_per_epoch: int) -> int:
        # sampling costs more than a loss: a SpecGAN check (128 samples through Griffin-Lim) takes about as long
        # as 50 batch-8 steps, so one in 2,000 steps keeps it near 2.5% of a run; copying builds up over
        # thousands of steps
        return max(steps_per_epoch, 2000)

    def memo(self, stored: torch.Tensor) -> torch.Tensor:
        return self.modality.memo_vectors(stored.cpu(), self.codec).float()

    @torch.no_grad()
    def measure(self, model) -> tuple[dict, bool]:
        with torch.random.fork_rng(devices=[]):  # the check must not move the training noise stream
            samples = model.sample(COPY_SAMPLES, seed=0)
        memo = self.memo(self.modality.to_stored(samples))
        self.share = memorization(memo, self.train_memo, self.threshold)["value"]  # the evaluation's own figure
        return {"copy_share": round(self.share, 4)}, self.share <= self.limit

    def why(self) -> str:
        return (
            f"for {self.patience} checks in a row more than {self.limit:.0%} of {COPY_SAMPLES} samples were near "
            f"copies of training items (last {self.share:.1%}; closer to one than 99% of {self.n_val} items held "
            "aside from training are)"
        )


def watch_for(model, x: torch.Tensor, y: Optional[torch.Tensor], t, modality, codec):
    """(watch or None, training x, training y): the family's watch with its validation slice taken out of the
    training items, unless train.watch_patience is 0, the family maps data with no likelihood (no samples of its
    own to copy with), or the data are too few for a slice (or, for the near-copy watch, too many to be
    memorised)."""
    sampling = "likelihood" not in model.abilities
    if not t.watch_patience or (sampling and ("from_data" in model.abilities or len(x) > MAX_COPY_ITEMS)):
        return None, x, y
    keep, val = validation_split(len(x), t.validation, t.seed)
    if len(val) < 4:
        return None, x, y
    if sampling:
        watch = CopyWatch(x[val], x[keep], t.watch_patience, t.copy_limit, modality, codec)
    else:
        watch = LossWatch(x[val], None if y is None else y[val], t.watch_patience, modality.to_model)
    return watch, x[keep], None if y is None else y[keep]
