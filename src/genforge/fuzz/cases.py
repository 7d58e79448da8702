"""What every fuzz target shares: a case, the tally of outcomes, how a case ended, and the hypothesis run
that draws the cases (generation only: nothing to shrink; the tally keeps every outcome)."""

from __future__ import annotations

import signal
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed
from hypothesis import strategies as st

from ..errors import GenforgeError

TIME_LIMIT_S = 30  # a case still running after this long is a hang
MESSAGE_LIMIT = 1500  # characters: an error longer than this is not one paragraph


@dataclass
class Case:
    """What a target built: the call a user's command makes, the names a clear error must mention (at least
    one), and a short description for the failure list."""

    call: Callable[[], object]
    names: list[str]
    what: str


@dataclass
class Tally:
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        """Counts of each outcome, failures and the first ten of them."""
        bad = self.outcomes["traceback"] + self.outcomes["hang"] + self.outcomes["unclear error"]
        return {"cases": self.cases, **dict(self.outcomes), "failures": bad, "first_failures": self.failures[:10]}


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def outcome(case: Case) -> tuple[str, str]:
    """(outcome, detail) of running one case: loaded, refused (a clear error), traceback, hang, unclear error."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        result = case.call()
    except Hang:
        return "hang", f"still running after {TIME_LIMIT_S} s"
    except GenforgeError as e:
        msg = str(e)
        if len(msg) > MESSAGE_LIMIT or "Traceback" in msg:
            return "unclear error", f"{len(msg)} characters: {msg[:200]}"
        if not any(n in msg for n in case.names):
            return "unclear error", f"names none of {case.names[:4]}: {msg[:300]}"
        return "refused", msg
    except (Exception, RecursionError) as e:
        where = traceback.extract_tb(e.__traceback__)[-1]
        return "traceback", f"{type(e).__name__}: {str(e)[:200]} at {where.filename}:{where.lineno}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    skipped = result if isinstance(result, int) else 0  # a data case returns how many inputs it skipped by name
    return ("skipped some" if skipped else "loaded"), ""


def generating(cases: int):
    """Hypothesis settings that only generate `cases` inputs: no shrinking, no example database, no deadline
    (the caller tallies every outcome and enforces its own time limit)."""
    return settings(
        max_examples=cases,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def run_target(name: str, draw_case: Callable, cases: int, seed: int, log=print) -> Tally:
    """Run `cases` generated cases of one target; `draw_case(data, folder)` builds a Case."""
    tally = Tally()
    t0 = time.perf_counter()

    # generation only: nothing raises inside, so there is nothing to shrink; the tally keeps every outcome
    @hseed(seed)
    @generating(cases)
    @given(st.data())
    def one(data):
        with tempfile.TemporaryDirectory() as tmp:
            case = draw_case(data, Path(tmp))
            kind, detail = outcome(case)
        tally.cases += 1
        tally.outcomes[kind] += 1
        if kind in ("traceback", "hang", "unclear error"):
            tally.failures.append(f"{case.what}: {detail}")
            log(f"{name}: {kind}: {case.what}: {detail}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL's decompression-bomb and the loaders' own warnings are expected here
        one()
    tally.seconds = round(time.perf_counter() - t0, 1)
    return tally
