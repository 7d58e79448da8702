"""Typed, strict run configuration: data + model + train.

A config is resolved in layers, later ones winning:
family defaults -> preset -> YAML file (--config) -> --set key=value -> CLI flags.
Unknown keys are errors that name the key and the nearest valid one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import reprlib
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError
from .registry import nearest


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BaseDataConfig(StrictModel):
    """The data keys every modality shares; each modality's own config class (in `modalities/`) adds its keys."""

    source: str = Field("digits", description="a built-in data set's name, or a path")
    test_fraction: float = Field(
        0.1, gt=0.0, lt=1.0, description="held-out share when the source has no split of its own"
    )
    split_seed: int = Field(0, description="seed of that split, recorded so the split can be rebuilt")
    limit: Optional[int] = Field(None, ge=1, description="use only the first N training items (small-data runs)")
    strict: bool = Field(False, description="make unreadable files (or lines) an error instead of skipping them")


class TrainConfig(StrictModel):
    batch_size: int = Field(64, ge=1, description="images per optimizer step")
    balance: bool = Field(
        False, description="every batch holds equal numbers of each class (labelled data; CycleGAN: of each domain)"
    )
    lr: float = Field(2e-4, gt=0, description="Adam learning rate (every network of the family)")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas")
    lr_decay: Literal["none", "linear"] = Field(
        "none", description="linear: the lr is constant for the first half of the budget, then falls linearly to 0"
    )
    steps: Optional[int] = Field(None, ge=1, description="stop after this many steps")
    epochs: Optional[float] = Field(None, gt=0, description="stop after this many passes over the training split")
    minutes: Optional[float] = Field(None, gt=0, description="stop after this much wall-clock time")
    seed: int = Field(0, description="seed of weights, noise and data order")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto picks cuda when available")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16 runs forward/backward under autocast")
    threads: Union[Literal["auto"], Annotated[int, Field(ge=1)], None] = Field(
        "auto",
        description="torch CPU threads: a number; auto measures the step rate at all, half and one thread "
        "and keeps the fastest, re-measured every minute (a shared CPU stays fast); null keeps torch's default",
    )
    deterministic: bool = Field(False, description="deterministic kernels (exact resume; slower)")
    sync_bn: bool = Field(
        False, description="under torchrun: BatchNorm statistics over the global batch (SyncBatchNorm), not per process"
    )
    log_every: int = Field(50, ge=1, description="steps between metrics.jsonl lines")
    sample_every: int = Field(500, ge=1, description="steps between sample grids (fixed noise)")
    checkpoint_every: int = Field(1000, ge=1, description="steps between checkpoints")
    grid_size: int = Field(64, ge=1, le=1024, description="images in each sample grid")
    on_nan: Literal["stop", "rollback"] = Field(
        "stop", description="a non-finite loss: stop (keeping the last checkpoint) or roll back to it at half the lr"
    )
    watch_patience: int = Field(
        3,
        ge=0,
        description="stop before a small data set is memorised: likelihood families (VAEs, language models) when "
        "the loss of a validation slice held aside from training has not improved for this many checks, keeping "
        "the best weights; sampling families (GANs) on at most 5,000 items when the near-copy share of their "
        "samples stays above train.copy_limit for this many checks, keeping the last weights under it; 0 never "
        "stops",
    )
    copy_limit: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="sampling families: the near-copy share (samples closer to a training item than 99% of the "
        "validation slice is) above which a watch check counts against the run; at least 5 / the slice's size, "
        "which cannot place its 1% finer than one item",
    )
    watch_every: Optional[int] = Field(
        None,
        ge=1,
        description="steps between the watch's checks (default: an epoch, 20 to 200 steps; for the near-copy "
        "watch an epoch of at least 2,000 steps)",
    )
    validation: float = Field(
        0.05, gt=0, lt=0.5, description="share of the training split held aside for the watch (32 to 1000 items)"
    )
    log_to: list[Literal["tensorboard", "mlflow"]] = Field(
        [], description="experiment trackers beside metrics.jsonl: tensorboard (RUN/tensorboard), mlflow (RUN/mlruns)"
    )

    @model_validator(mode="after")
    def _default_budget(self):
        # With no budget at all a run would never end; 2000 steps is a short, useful default.
        if self.steps is None and self.epochs is None and self.minutes is None:
            object.__setattr__(self, "steps", 2000)
        return self


class RunConfigBase(StrictModel):
    family: str
    preset: str
    picked: Optional[str] = Field(None, description="why `--model auto` picked the family (None: it was named)")
    data: BaseDataConfig = BaseDataConfig()
    train: TrainConfig = TrainConfig()


# ---------------------------------------------------------------- dict helpers


def deep_merge(base: dict, over: dict) -> dict:
    """A copy of `base` with `over` merged in, nested dicts merged key by key."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _parse_value(raw: str):
    """JSON first (so 2e-4 is a float, which YAML 1.1 reads as a string), then YAML, else text."""
    for parse in (json.loads, yaml.safe_load):
        try:
            return parse(raw) if raw.strip() else None
        except (ValueError, yaml.YAMLError):
            continue
    return raw


def parse_set(items: list[str]) -> dict:
    """['train.lr=2e-4', 'model.width=2'] -> {'train': {'lr': 2e-4}, 'model': {'width': 2}}."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set '{item}': expected KEY=VALUE, e.g. train.lr=2e-4")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"--set '{item}': '{key}' is not a dotted key like train.lr")
        value = _parse_value(raw)
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set '{item}': '{p}' is set both as a value and a section")
        node[parts[-1]] = value
    return out


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path}: expected a mapping of sections (data, model, train), got {type(data).__name__}"
        )
    if _too_big(data):
        raise ConfigError(f"config file {path}: expands to more than {MAX_VALUES:,} values (YAML aliases?)")
    return data


MAX_VALUES = 100_000  # a config has a few hundred; YAML aliases can make a small file expand to billions


def _too_big(data) -> bool:
    """Whether `data` holds more than MAX_VALUES values once aliases are expanded (stops counting there)."""
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            return True
        if isinstance(node, dict):
            stack += node.values()
        elif isinstance(node, list):
            stack += node
    return False


def check_keys(cls: type[BaseModel], data: dict, prefix: str = "") -> None:
    """Raise ConfigError naming the first unknown key and the nearest valid one."""
    fields = cls.model_fields
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in fields:
            close = nearest(str(key), fields).replace("'", f"'{prefix}", 1)  # YAML keys may be null, numbers
            raise ConfigError(
                f"unknown config key '{full}'{close}; valid keys here: {', '.join(prefix + f for f in fields)}"
            )
        ann = fields[key].annotation
        if isinstance(value, dict) and isinstance(ann, type) and issubclass(ann, BaseModel):
            check_keys(ann, value, f"{full}.")


def validate(cls: type[BaseModel], data: dict) -> BaseModel:
    """Validate with messages that name the dotted key and the bad value."""
    check_keys(cls, data)
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {loc}: {err['msg']} (got {SHORT.repr(err.get('input'))})")
        raise ConfigError("invalid config:\n" + "\n".join(lines)) from None


SHORT = reprlib.Repr()  # a bad value, quoted briefly (keyword arguments need Python 3.12)
SHORT.maxlevel, SHORT.maxlist, SHORT.maxdict, SHORT.maxstring, SHORT.maxother = 2, 4, 4, 60, 60


def config_hash(cfg: BaseModel) -> str:
    """Short stable hash of a resolved config."""
    blob = json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
