"""The run directory contract: resolve a config, save and load weights and state.

runs/<name>/config.json         resolved config + the data's shape, classes, fingerprint
runs/<name>/model.safetensors   weights (all networks, BN buffers), metadata
runs/<name>/train_state.pt      optimizers, step, RNG: tensors and plain values only
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
from pathlib import Path
from typing import Callable, Optional

import torch
from pydantic import create_model
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .config import RunConfigBase, config_hash, deep_merge, load_yaml, parse_set, validate
from .data.base import detect_modality
from .errors import ConfigError, RunError
from .io import CONFIG, STATE, STATUS, WEIGHTS, atomic_write, read_json, write_json
from .modalities import modality_of
from .modalities.manifest import manifests, owner
from .models import FAMILIES, Family
from .version import __version__

STALE_S = 300  # a "training" status not refreshed for this long belongs to a process that died


def resolve_config(
    family: str = "dcgan",
    preset: Optional[str] = None,
    config_file: Optional[str | Path] = None,
    sets: tuple[str, ...] | list[str] = (),
    overrides: Optional[dict] = None,
    log: Optional[Callable[[str], None]] = None,
) -> RunConfigBase:
    """Defaults -> preset -> YAML file -> --set items -> explicit overrides (CLI flags).

    With no preset named anywhere, a time budget (train.minutes) picks the family's preset measured best for
    it, said through `log`."""
    fam = FAMILIES.get(family)
    from_file = load_yaml(config_file) if config_file else {}
    preset = preset or from_file.pop("preset", None)
    from_file.pop("family", None)
    user = [from_file, parse_set(list(sets)), overrides or {}]
    if preset is None:
        train = {}
        for layer in user:
            train = deep_merge(train, layer.get("train") or {})
        minutes = train.get("minutes")
        preset = fam.preset_for_budget(minutes if isinstance(minutes, (int, float)) else None)
        if preset != fam.default_preset and log is not None:
            log(f"preset '{preset}': the measured best for a {minutes:g}-minute budget (name --preset to choose)")
    if not isinstance(preset, str) or preset not in fam.presets:
        raise ConfigError(
            f"unknown preset '{str(preset)[:60]}' for {family}; expected one of: {', '.join(fam.presets)}"
        )
    layers = [fam.presets[preset], *user]
    # the modality's own default data set (digits for images, the fortunes for text)
    merged: dict = {"family": family, "preset": preset, "data": {"source": modality_of(fam).DataConfig().source}}
    for layer in layers:
        merged = deep_merge(merged, layer)
    return validate(run_config_class(fam), merged)


def auto_family(source: Optional[str], minutes: Optional[float]) -> tuple[str, str]:
    """`--model auto`: (family, why). The data's modality is the one whose manifest names the data set, else the
    one whose sources read the path (with no data: the first modality, whose default data set a run then
    trains on); the family is the one its manifest measured best for that data set or modality at a budget of
    `minutes`."""
    manifest = next(iter(manifests().values())) if source is None else owner(source)
    manifest = manifest or manifests()[detect_modality(source)]
    family, why = manifest.pick(minutes, source)
    return family, f"{family} for {manifest.name} data: {why}"


def run_config_class(family: type[Family]) -> type[RunConfigBase]:
    """The RunConfig model whose `data` section is the family's modality's and whose `model` section
    is the family's typed config."""
    data_cls = modality_of(family).DataConfig
    return create_model(
        f"{family.Config.__name__}Run",
        __base__=RunConfigBase,
        data=(data_cls, data_cls()),
        model=(family.Config, family.Config()),
    )


def build_model(cfg: RunConfigBase, shape, n_classes: int = 0) -> Family:
    return FAMILIES.get(cfg.family)(cfg.model, tuple(shape), n_classes)


def save_config(run: Path, cfg: RunConfigBase, dataset: dict) -> None:
    write_json(run / CONFIG, {**cfg.model_dump(mode="json"), "dataset": dataset})


def read_config(run: str | Path) -> tuple[RunConfigBase, dict]:
    """(config, dataset info) of a run directory; errors name the file."""
    path = Path(run) / CONFIG
    if not path.is_file():
        raise RunError(f"{run} is not a genforge run: {CONFIG} is missing")
    raw = read_json(path)
    dataset = raw.pop("dataset", None) if isinstance(raw, dict) else None
    shape = dataset.get("shape") if isinstance(dataset, dict) else None
    if not (isinstance(shape, list) and shape and all(type(d) is int and d > 0 for d in shape)):
        raise RunError(f"{path}: not a valid genforge config (expected an object with dataset.shape, a list of sizes)")
    if type(dataset.get("n_classes", 0)) is not int or dataset.get("n_classes", 0) < 0:
        raise RunError(f"{path}: dataset.n_classes must be a whole number >= 0, got {dataset['n_classes']!r}")
    try:
        if not isinstance(raw.get("family"), str):
            raise ConfigError(f"family: expected a family name, got {raw.get('family')!r}")
        return validate(run_config_class(FAMILIES.get(raw["family"])), raw), dataset
    except ConfigError as e:
        raise RunError(f"{path}: {e}") from None


def write_status(run: Path, state: str, step: int, **extra) -> None:
    """Record where a run stands (the trainer refreshes it at every log line: a heartbeat)."""
    write_json(
        Path(run) / STATUS,
        {
            "state": state,
            "step": step,
            "updated": round(time.time(), 1),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **extra,
        },
    )


def read_status(run: str | Path) -> dict:
    """A run's status; a "training" run whose heartbeat is older than STALE_S reads as "stopped".
    Runs made before status files existed read as "finished" when they have weights."""
    path = Path(run) / STATUS
    try:
        st = read_json(path)
    except RunError:  # none yet, or damaged: the next heartbeat writes it whole again
        st = None
    if not isinstance(st, dict) or not isinstance(st.get("state"), str):
        return {"state": "finished" if (Path(run) / WEIGHTS).is_file() else "unknown", "step": None}
    if not isinstance(st.get("updated", 0), (int, float)):
        st["updated"] = 0
    if st.get("state") == "training" and time.time() - st.get("updated", 0) > STALE_S:
        st["state"] = "stopped"  # killed without a word: resume it with --resume
    return st


def lock_run(run: Path):
    """An exclusive lock on a run directory for as long as the returned file stays open (the OS drops it
    when the process dies); a second process given the same --out gets a clear error instead."""
    # deferred: POSIX only
    import fcntl

    run.mkdir(parents=True, exist_ok=True)
    f = open(run / ".lock", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        st = read_status(run)
        raise RunError(
            f"{run} is in use by another process (pid {st.get('pid')} on {st.get('host')}: {st['state']} at step "
            f"{st.get('step')}); wait for it to finish, or choose another --out"
        ) from None
    return f


def tensor_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the names and bytes of a state dict's tensors, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_weights(run: Path, model: Family, cfg: RunConfigBase, step: int) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"genforge_version": __version__, "family": cfg.family, "config_hash": config_hash(cfg), "step": str(step)}
    atomic_write(run / WEIGHTS, st_save(state, metadata=meta | {"sha256": tensor_digest(state)}))


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file; a damaged or edited file is refused (by its checksum, when it has one)."""
    try:
        blob = path.read_bytes()
        state = st_load(blob)
        meta = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")]).get("__metadata__") or {}
    except (SafetensorError, ValueError, OSError) as e:
        raise RunError(f"{path}: corrupt weights file ({e})") from None
    if "sha256" in meta and meta["sha256"] != tensor_digest(state):  # files written before checksums have none
        raise RunError(f"{path}: the weights do not match their checksum: the file was damaged or edited")
    return state


def load_weights(run: Path, model: Family) -> None:
    """The weights of `run` into `model`; damaged files and weights of another config or family are refused."""
    path = Path(run) / WEIGHTS
    if not path.is_file():
        raise RunError(f"{path} is missing: the run has no saved weights yet")
    apply_weights(model, read_weights(path), path)


def apply_weights(model: Family, state: dict, path: Path) -> None:
    """Load `state` (read from `path`) into `model`; weights of another config or family are refused."""
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of the wrong shape: weights of another config or family
        first = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
        raise RunError(f"{path}: weights do not match the config in {CONFIG} ({first})") from None
    if missing or unexpected:
        raise RunError(f"{path}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")


STATE_DIGEST = b"genforge-sha256:"  # then the 32-byte SHA-256 of everything before it


def save_state(run: Path, state: dict) -> None:
    """torch.save of the training state, followed by its checksum."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    atomic_write(run / STATE, payload + STATE_DIGEST + hashlib.sha256(payload).digest())


def load_state(run: Path) -> dict:
    """The training state of `run`; a damaged or edited file is refused by its checksum."""
    path = Path(run) / STATE
    if not path.is_file():
        raise RunError(f"{path} is missing: nothing to resume")
    blob = path.read_bytes()
    payload, mark, digest = blob[:-48], blob[-48:-32], blob[-32:]
    if mark != STATE_DIGEST:
        payload = blob  # written before checksums
    elif hashlib.sha256(payload).digest() != digest:
        raise RunError(f"{path}: the training state does not match its checksum: the file was damaged or edited")
    try:
        # weights_only: a state file never runs code when loaded.
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as e:
        raise RunError(f"{path}: corrupt training state ({e})") from None


def load(run: str | Path, device: str = "cpu") -> Family:
    """The trained model of a run directory, in eval mode: `load(run).sample(64, seed=0)`.
    It carries `run_config`, `dataset_info`, `run_dir` and `codec` (what turns its outputs into samples)."""
    cfg, dataset = read_config(run)
    model = build_model(cfg, dataset["shape"], dataset.get("n_classes", 0))
    load_weights(Path(run), model)
    model.run_config, model.dataset_info, model.run_dir = cfg, dataset, Path(run)
    mod = modality_of(model)
    model.codec = mod.codec(Path(run))
    if "from_data" in model.abilities:  # it generates from held-out items of its data

        def read():
            data = mod.load(cfg.data, Path(run))
            return data.tensor("test"), data.labels("test")

        model.use_held_out(read, mod.to_model)
    return model.to(device).eval()
