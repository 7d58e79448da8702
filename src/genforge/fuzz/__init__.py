"""Fuzzing every input a user can point genforge at: generated files, configs and run directories.

    python -m genforge.fuzz [--cases 1000] [--only image-folder,idx,...,server] [--seed 0]

Each target draws cases with hypothesis (valid inputs, damaged ones and hostile ones), writes them to a
scratch folder and runs the command a user would (`genforge data inspect`, `sample`, `report`, `train
--resume`, or the config resolver the CLI calls). Every case must end in one of three ways: loaded, a
named skip (the loader listed the bad file with its reason and went on), or a clear error: a genforge error
of one paragraph that names the file, key or value. Anything else (another exception, a traceback, a case
that runs past the time limit) is a failure, listed with the case that caused it. The `server` target is
schemathesis against `genforge serve` (fuzz/server.py; cases/10 per operation and generation mode). Prints a
JSON summary per target; exits 1 on any failure. Needs the `test` extra (hypothesis, schemathesis).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import tempfile
import time
from typing import Callable, Optional

from ..modalities.manifest import manifests
from .cases import run_target
from .config_cases import CONFIG_TARGETS
from .data_cases import DATA_TARGETS
from .server import server_campaign


def targets() -> dict[str, Optional[Callable]]:
    """Target name -> its case builder (None for the server, which schemathesis drives); a modality adds its own
    targets in `modalities/<name>/fuzz_cases.py` (TARGETS), where its libraries are installed."""
    own = {}
    for m in manifests().values():
        module = f"{__package__.rsplit('.', 1)[0]}.modalities.{m.name}.fuzz_cases"
        if not m.missing() and importlib.util.find_spec(module) is not None:
            own |= importlib.import_module(module).TARGETS
    return DATA_TARGETS | own | CONFIG_TARGETS | {"server": None}


def campaign(cases: int, only: tuple[str, ...] = (), seed: int = 0, log=print) -> dict:
    """Every target (or `only` these), `cases` each: {target: summary}."""
    os.environ.setdefault("GENFORGE_CACHE", tempfile.mkdtemp(prefix="genforge-fuzz-cache-"))
    out = {}
    for name, draw in targets().items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        if draw is None:
            out[name] = server_campaign(max(cases // 10, 5), seed, log)
        else:
            out[name] = run_target(name, draw, cases, seed, log).summary()
        out[name]["seconds"] = round(time.perf_counter() - t0, 1)
        log(f"{name}: {out[name]}")
    return out
