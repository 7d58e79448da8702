"""The fuzz campaign: every target, or some, a number of cases each (see the package's docstring)."""

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
