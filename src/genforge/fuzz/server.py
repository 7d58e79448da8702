"""Schemathesis against `genforge serve`: every operation of its OpenAPI schema called with generated
paths, queries and bodies, valid (positive) and invalid (negative), on three small trained runs (a GAN, a
VAE, a video GAN). A 5xx, a request slower than TIME_LIMIT_S or an answer over MAX_ANSWER is a failure."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

from hypothesis import given
from hypothesis import seed as hseed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from ..serve import create_app
from .cases import Tally, generating
from .config_cases import trained_runs

TIME_LIMIT_S = 10.0
MAX_ANSWER = 64 * 2**20  # bytes: the largest grid the caps allow is far below this


@dataclass
class Calls(Tally):
    """The fuzz tally (outcomes are status classes: 2xx, 4xx, 5xx) with the slowest call and largest answer."""

    slowest: float = 0.0
    largest: int = 0


def fuzz_operation(op, mode, names: list[str], cases: int, seed: int, calls: Calls, log) -> None:
    """`cases` generated requests of one operation in one generation mode, tallied in `calls`."""

    @hseed(seed)
    @generating(cases)
    @given(case=op.as_strategy(generation_mode=mode), name=st.sampled_from(names + [None]))
    def one(case, name):
        if name is not None and case.path_parameters and "name" in case.path_parameters:
            case.path_parameters["name"] = name  # mostly a served run, sometimes the generated name
        t0 = time.perf_counter()
        resp = case.call()
        took = time.perf_counter() - t0
        calls.cases += 1
        calls.outcomes[f"{resp.status_code // 100}xx"] += 1
        calls.slowest, calls.largest = max(calls.slowest, took), max(calls.largest, len(resp.content))
        if resp.status_code >= 500 or took > TIME_LIMIT_S or len(resp.content) > MAX_ANSWER:
            what = f"{op.label} {mode.value}: {case.path_parameters} {case.query}"
            calls.failures.append(f"{what} -> {resp.status_code} in {took:.1f} s, {len(resp.content)} bytes")
            log(f"server: {calls.failures[-1]}")

    try:
        one()
    except Unsatisfiable:  # no invalid input exists for an operation without parameters
        pass


def server_campaign(cases: int, seed: int = 0, log=print) -> dict:
    """`cases` generated requests per operation and generation mode: counts of statuses and failures."""
    # deferred: the test extra, slow to import, only for the server target
    import schemathesis
    from schemathesis import GenerationMode

    runs = trained_runs()
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(list(runs.values())))
    calls, ops = Calls(), [r.ok() for r in schema.get_all_operations()]
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for op in ops:
        for mode in GenerationMode:
            fuzz_operation(op, mode, [p.name for p in runs.values()], cases, seed, calls, log)
    return {
        "operations": len(ops),
        "cases": calls.cases,
        **dict(sorted(calls.outcomes.items())),
        "failures": len(calls.failures),
        "first_failures": calls.failures[:10],
        "slowest_s": round(calls.slowest, 3),
        "largest_answer_bytes": calls.largest,
        "peak_memory_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1),
    }
