"""Which training items each step takes: shuffled epochs, or batches balanced over the classes.

Both are functions of the step alone (and the seed, the batch and this process's rank), so a resumed run
takes the same items it would have taken without the interruption. Under torchrun each process takes its
own slice of the global batch.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError


class Shuffled:
    """A seeded permutation of all n items per epoch; step s of the epoch takes its s-th `batch` items."""

    def __init__(self, n: int, batch: int, local_batch: int, rank: int, seed: int, device):
        self.n, self.batch, self.local_batch = n, batch, local_batch
        self.rank, self.seed, self.device = rank, seed, device
        self.steps_per_epoch = n // batch
        self._epoch, self._perm = -1, None

    def __call__(self, step: int) -> torch.Tensor:
        epoch, pos = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.n, generator=gen).to(self.device)
            self._epoch = epoch
        start = pos * self.batch + self.rank * self.local_batch  # this process's share of the global batch
        return self._perm[start : start + self.local_batch]  # [local_batch] item indices


class Balanced:
    """`train.balance`: every batch holds batch / K items of each of the K classes. Each class's items are
    taken in their own seeded permutations, one after another, so a small class is cycled through more often
    than a large one (CycleGAN's one A and one B image a step, whatever the sizes of the two domains)."""

    def __init__(self, labels: torch.Tensor, n_classes: int, batch: int, local_batch: int, rank: int, seed: int):
        if local_batch % n_classes:
            raise ConfigError(
                f"train.balance: a batch of {local_batch} per process does not split evenly among {n_classes} "
                f"classes; use a train.batch_size that is a multiple of {n_classes} (times the processes)"
            )
        self.device, labels = labels.device, labels.cpu()
        self.items = [torch.nonzero(labels == k).flatten() for k in range(n_classes)]
        empty = [k for k, items in enumerate(self.items) if not len(items)]
        if empty:
            raise ConfigError(f"train.balance: class {empty[0]} has no training items")
        self.seed, self.rank = seed, rank
        self.per, self.local = batch // n_classes, local_batch // n_classes  # items of each class: all, this process
        self._perms: dict[tuple[int, int], torch.Tensor] = {}

    def _perm(self, k: int, cycle: int) -> torch.Tensor:
        """The `cycle`-th seeded permutation of class k's items."""
        if (k, cycle) not in self._perms:
            if len(self._perms) > 4 * len(self.items):  # only the current (and next) cycles are asked for
                self._perms.clear()
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + 7919 * k + cycle)
            self._perms[k, cycle] = self.items[k][torch.randperm(len(self.items[k]), generator=gen)]
        return self._perms[k, cycle]

    def __call__(self, step: int) -> torch.Tensor:
        out = []
        for k, items in enumerate(self.items):
            pos = step * self.per + self.rank * self.local + torch.arange(self.local)  # places in class k's stream
            cycle, at = pos // len(items), pos % len(items)
            picked = torch.empty_like(pos)
            for c in cycle.unique().tolist():
                picked[cycle == c] = self._perm(k, c)[at[cycle == c]]
            out.append(picked)
        return torch.cat(out).to(self.device)  # [local_batch]: per / K of class 0, then of class 1, ...
