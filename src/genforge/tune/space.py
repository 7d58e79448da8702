"""Search spaces: which config keys to tune, and over what, declared in YAML or by default.

train.lr:         {type: float, low: 5.0e-5, high: 1.0e-3, log: true}
train.batch_size: {type: categorical, choices: [32, 64, 128]}
model.width:      {type: float, low: 0.25, high: 1.0}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import ValidationError

from ..config import StrictModel
from ..errors import ConfigError
from ..models import FAMILIES


class Param(StrictModel):
    type: Literal["float", "int", "categorical"]
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    choices: Optional[list[Any]] = None


def load_space(family: str, path: Optional[str | Path] = None) -> dict[str, Param]:
    """The space from a YAML file, or the family's default; errors name the key."""
    if path is None:
        raw = FAMILIES.get(family).search_space
        if not raw:
            raise ConfigError(f"no default search space for '{family}'; pass --space space.yaml")
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--space {p}: no such file")
        try:
            raw = yaml.safe_load(p.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"--space {p}: not valid YAML ({e})") from None
        if not isinstance(raw, dict) or not raw:
            raise ConfigError(f"--space {p}: expected a mapping of config keys to parameter specs")
    space = {}
    for key, spec in raw.items():
        try:
            param = Param.model_validate(spec)
        except ValidationError as e:
            raise ConfigError(f"search space key '{key}': {e.errors()[0]['msg']} (got {spec!r})") from None
        if param.type == "categorical" and not param.choices:
            raise ConfigError(f"search space key '{key}': a categorical parameter needs choices")
        if param.type != "categorical" and (param.low is None or param.high is None or param.low >= param.high):
            raise ConfigError(f"search space key '{key}': needs low < high, got low={param.low}, high={param.high}")
        space[key] = param
    return space


def suggest(trial, space: dict[str, Param]) -> list[str]:
    """`--set` items (key=json value) drawn by an Optuna trial."""
    sets = []
    for key, p in space.items():
        if p.type == "float":
            v = trial.suggest_float(key, p.low, p.high, log=p.log)
        elif p.type == "int":
            v = trial.suggest_int(key, int(p.low), int(p.high), log=p.log)
        else:
            # Optuna stores categorical choices as primitives: lists travel as JSON text.
            encoded = [json.dumps(c) for c in p.choices]
            v = json.loads(trial.suggest_categorical(key, encoded))
        sets.append(f"{key}={json.dumps(v)}")
    return sets


def params_to_sets(params: dict) -> list[str]:
    """A finished trial's params -> `--set` items (categoricals are JSON text already)."""
    return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in params.items()]
