"""Choose torch's CPU thread count by measuring it, again and again.

On a shared machine PyTorch's default (one intra-op thread per core) collapses:
OpenMP threads spin at every barrier waiting for a sibling that another process
has descheduled, so two threads beside one busy process can run at a third of
their quiet speed while one thread keeps a whole core. No static rule knows the
load ahead of time, so `train.threads=auto` measures: it times a short window of
training steps at each candidate count, keeps the fastest, and measures again
every `period` seconds because load comes and goes.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import torch


def thread_candidates(max_threads: Optional[int] = None) -> list[int]:
    """Counts worth trying, most first: all threads, half of them, one."""
    n = max_threads or torch.get_num_threads()
    return sorted({n, max(1, n // 2), 1}, reverse=True)


class ThreadTuner:
    """Call `tick()` before every training step; it sets torch's thread count.

    A probe runs each candidate for one warm-up step (the thread pool resizes) and
    then at least `min_steps` steps and `window_s` seconds, and keeps the count with
    the most steps per second. `choices` records (time, rates, chosen) of each probe."""

    def __init__(
        self,
        candidates: Optional[list[int]] = None,
        window_s: float = 1.0,
        min_steps: int = 3,
        period: float = 60.0,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.candidates = candidates or thread_candidates()
        self.window_s, self.min_steps, self.period, self.clock = window_s, min_steps, period, clock
        self.choices: list[dict] = []
        self._queue: list[int] = []
        self._rates: dict[int, float] = {}
        self._next_probe = clock()  # probe at the first step
        self._n, self._t0 = 0, 0.0

    @property
    def current(self) -> int:
        return torch.get_num_threads()

    def restart_window(self) -> None:
        """Work other than training steps ran since the last tick: measure the current count afresh."""
        self._n = 0

    def _start(self, threads: int) -> None:
        torch.set_num_threads(threads)
        self.restart_window()

    def tick(self) -> None:
        now = self.clock()
        if not self._queue:
            if now < self._next_probe or len(self.candidates) < 2:
                return
            self._queue, self._rates = list(self.candidates), {}
            self._start(self._queue[0])
            return
        self._n += 1
        if self._n == 1:  # one warm-up step at the new count has run
            self._t0 = now
            return
        steps = self._n - 1
        if steps < self.min_steps or now - self._t0 < self.window_s:
            return
        self._rates[self._queue.pop(0)] = steps / (now - self._t0)
        if self._queue:
            self._start(self._queue[0])
            return
        best = max(self._rates, key=self._rates.get)
        torch.set_num_threads(best)
        self.choices.append(
            {"t": round(now, 2), "steps_per_s": {k: round(v, 2) for k, v in self._rates.items()}, "threads": best}
        )
        self._next_probe = now + self.period
