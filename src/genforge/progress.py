"""Progress of long commands: a tqdm bar on a terminal, plain lines in a log (a bar's carriage returns
would make one endless line there)."""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional

from tqdm.auto import tqdm


class Progress:
    """`with Progress(total, "restoring", "step") as p: p.update()`: a bar when stderr is a terminal, else a
    line through `log` (stderr by default) at most every `every_s` seconds and at the end."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "step",
        log: Optional[Callable[[str], None]] = None,
        every_s: float = 10.0,
        enabled: bool = True,
    ):
        self.total, self.desc, self.unit, self.every_s = total, desc, unit, every_s
        self.log = log or (lambda s: print(s, file=sys.stderr, flush=True))
        self.lines = enabled and not sys.stderr.isatty()
        bar_on = enabled and not self.lines
        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=not bar_on, dynamic_ncols=True, mininterval=1.0)
        self.done, self.start = 0, time.monotonic()
        self.last = self.start

    def update(self, n: int = 1) -> None:
        self.done += n
        self.bar.update(n)
        now = time.monotonic()
        if self.lines and (now - self.last >= self.every_s or self.done >= self.total):
            self.last = now
            self.log(self.line(now - self.start))

    def line(self, elapsed: float) -> str:
        """'restoring: 120/300 steps (40%), 12.0 steps/s, 15 s left'."""
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        pct = 100 * self.done / self.total if self.total else 100.0
        done = f"{self.done}/{self.total} {self.unit}s ({pct:.0f}%)"
        return f"{self.desc}: {done}, {rate:.1f} {self.unit}s/s, {left:.0f} s left"

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
