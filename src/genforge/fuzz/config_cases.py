"""Generated configs and run directories for the fuzz campaign: YAML config files, `--set` items, and
trained run directories with a missing, edited or damaged file, used by `genforge sample`, `report`
and `train --resume`."""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from ..cli import app
from ..errors import GenforgeError
from ..models import FAMILIES
from ..run import resolve_config, run_config_class
from ..train import Trainer
from .cases import Case
from .data_cases import mutate

FAMILIES_TRIED = ("dcgan", "vae", "text-vae", "wavegan")
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**30, -(10**30), 0, -1, 1])
    | st.floats()
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def dotted_keys(cls: type[BaseModel], prefix: str = "") -> list[str]:
    """Every config key of a pydantic config class, dotted (data.resolution, train.lr, ...)."""
    out = []
    for name, f in cls.model_fields.items():
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += dotted_keys(ann, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


@functools.lru_cache(maxsize=None)
def family_keys(family: str) -> tuple[str, ...]:
    return tuple(dotted_keys(run_config_class(FAMILIES.get(family))))


@functools.lru_cache(maxsize=None)
def default_items(family: str) -> tuple[str, ...]:
    """KEY=VALUE items that restate the family's defaults (a valid --set for every key)."""

    def flat(d: dict, prefix: str = ""):
        for k, v in d.items():
            yield from flat(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}={json.dumps(v)}"]

    cfg = resolve_config(family).model_dump(mode="json")
    return tuple(i for i in flat({k: v for k, v in cfg.items() if isinstance(v, dict)}) if "=null" not in i)


def a_key(data, family: str) -> str:
    """A real dotted key of the family's config, one with a typo, or any text."""
    key = data.draw(st.sampled_from(family_keys(family)))
    kind = data.draw(st.sampled_from(["real", "real", "typo", "any"]))
    if kind == "typo":
        return key[:-1] + data.draw(st.sampled_from("xz_"))
    return key if kind == "real" else data.draw(st.text(max_size=20))


def nested(items: dict) -> dict:
    """{'train.lr': 1} -> {'train': {'lr': 1}} (a later, deeper key replaces an earlier value)."""
    out: dict = {}
    for key, value in items.items():
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[parts[-1]] = value
    return out


def laughs(key: str, depth: int, width: int) -> str:
    """The 'billion laughs' YAML as the value of a real key: each alias level multiplies the nodes by `width`."""
    levels = ["&a0 [lol]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth + 1)]
    section, name = key.split(".", 1) if "." in key else ("model", key)
    return f"{section}:\n  {name}: [{', '.join(levels)}, *a{depth}]\n"


def doc_keys(text: str) -> list[str]:
    """The keys of a YAML document as parsed, dotted (a damaged document's keys differ from the drawn ones)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    out, stack = [], [("", doc)]
    while stack and len(out) < 1000:
        prefix, node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                out.append(f"{prefix}{k}")
                stack.append((f"{prefix}{k}.", v))
    return out


def yaml_config(data, tmp: Path) -> Case:
    family = data.draw(st.sampled_from(FAMILIES_TRIED))
    items = {a_key(data, family): data.draw(JSON_VALUES) for _ in range(data.draw(st.integers(0, 5)))}
    kind = data.draw(st.sampled_from(["mapping", "mapping", "damaged", "laughs", "not a mapping", "binary"]))
    text = yaml.safe_dump(nested(items), allow_unicode=True)
    if kind == "damaged":
        text = mutate(data, text.encode(), ("truncate", "flip", "garbage"))[0].decode(errors="replace")
    elif kind == "laughs":
        key = data.draw(st.sampled_from(family_keys(family)))
        items = {key: "laughs"}
        text = laughs(key, data.draw(st.integers(1, 9)), data.draw(st.integers(2, 10)))
    elif kind == "not a mapping":
        text = yaml.safe_dump(data.draw(st.lists(JSON_VALUES, max_size=3)) if data.draw(st.booleans()) else 3)
    path = tmp / "config.yaml"
    if kind == "binary":
        path.write_bytes(data.draw(st.binary(max_size=200)))
    else:
        path.write_text(text)
    names = [str(path), *items, *(k.split(".")[0] for k in items), *map(str, items.values()), *doc_keys(text)]
    return Case(lambda: resolve_config(family, config_file=path), names, f"{family} YAML {kind}: {text[:120]!r}")


def set_items(data, tmp: Path) -> Case:
    family = data.draw(st.sampled_from(FAMILIES_TRIED))
    values = st.one_of(
        st.text(max_size=30),
        st.sampled_from(["2e-4", "1e999", "-1", "0", "nan", "inf", "null", "~", "[1, 2]", "{a: 1}", "yes", "0x10"]),
        st.sampled_from(["0.5", "2", "64", "true", "false", "0.9", "[0.5, 0.99]", "hinge", "1e-3"]),
        JSON_VALUES.map(json.dumps),
    )
    items = []
    for _ in range(data.draw(st.integers(1, 4))):
        shape = data.draw(st.sampled_from(["default", "default", "k=v", "k=v", "no equals", "empty key"]))
        key, value = a_key(data, family), data.draw(values)
        if shape == "default":
            items.append(data.draw(st.sampled_from(default_items(family))))
        else:
            items.append({"k=v": f"{key}={value}", "no equals": key, "empty key": f"={value}"}[shape])
    keys = [i.split("=")[0].strip() for i in items]
    prefixes = [".".join(k.split(".")[: n + 1]) for k in keys for n in range(k.count(".") + 1)]
    names = items + prefixes + [i.split("=", 1)[-1] for i in items]
    return Case(lambda: resolve_config(family, sets=items), names, f"{family} --set {items}")


# ------------------------------------------------------------------ run directories

RUN_FILES = ("config.json", "model.safetensors", "train_state.pt", "status.json", "metrics.jsonl")


@functools.lru_cache(maxsize=None)
def trained_runs() -> dict[str, Path]:
    """Three tiny runs (a GAN and a VAE on the digits, a video GAN on moving digits), trained once per campaign."""
    root = Path(tempfile.mkdtemp(prefix="genforge-fuzz-runs-"))
    sets = ["train.steps=2", "train.batch_size=16", "model.width=0.25", "train.log_every=1"]
    video = ["data.source=moving-digits", "data.clips=20", "data.resolution=8", "data.frames=4", "model.kernel=3"]
    runs = {}
    for family, extra in (("dcgan", []), ("vae", []), ("videogan", video)):
        cfg = resolve_config(family, sets=sets + extra)
        Trainer(cfg, root / family, progress=False, log=lambda s: None).fit()
        runs[family] = root / family
    return runs


def edit_config(data, text: str) -> str:
    """config.json with one key removed, changed to any JSON value, or added; or not an object at all."""
    raw = json.loads(text)
    kind = data.draw(st.sampled_from(["change", "change", "remove", "add", "family", "not an object"]))
    section = data.draw(st.sampled_from([k for k, v in raw.items() if isinstance(v, dict)]))
    keys = sorted(raw[section])
    if kind == "change" and keys:
        raw[section][data.draw(st.sampled_from(keys))] = data.draw(JSON_VALUES)
    elif kind == "remove":
        raw.pop(data.draw(st.sampled_from(sorted(raw))))
    elif kind == "add":
        raw[section][data.draw(st.text(max_size=10))] = data.draw(JSON_VALUES)
    elif kind == "family":
        raw["family"] = data.draw(st.sampled_from(["vae", "dcgan", "text-lm", "wavegan", "nope"]))
    elif kind == "not an object":
        raw = data.draw(st.lists(JSON_VALUES, max_size=3))
    return json.dumps(raw)


def damaged_run(data, tmp: Path) -> Case:
    family = data.draw(st.sampled_from(["dcgan", "vae"]))
    run = tmp / "run"
    shutil.copytree(trained_runs()[family], run)
    whats = []
    for name in data.draw(st.lists(st.sampled_from(RUN_FILES), min_size=1, max_size=2, unique=True)):
        path = run / name
        how = data.draw(st.sampled_from(["delete", "damage", "edit", "other family"]))
        if how == "delete":
            path.unlink()
        elif how == "edit" and name == "config.json":
            path.write_text(edit_config(data, path.read_text()))
        elif how == "other family" and name in ("model.safetensors", "train_state.pt"):
            shutil.copy(trained_runs()["vae" if family == "dcgan" else "dcgan"] / name, path)
        else:
            blob, how = mutate(data, path.read_bytes(), ("truncate", "flip", "empty", "garbage"))
            path.write_bytes(blob)
        whats.append(f"{name} {how}")
    command = data.draw(st.sampled_from(["sample", "report", "resume"]))
    args = {
        "sample": ["sample", str(run), "-n", "4", "--out", str(tmp / "s.png")],
        "report": ["report", str(run), "--out", str(tmp / "r.html")],
        "resume": ["train", "--resume", str(run), "--steps", "3", "--no-progress"],
    }[command]

    def call():
        res = CliRunner().invoke(app, args)
        if isinstance(res.exception, SystemExit) or res.exception is None:
            if res.exit_code:  # a usage error typer has already worded
                raise GenforgeError(f"{run}: {res.output.strip()}")
            return 0
        raise res.exception

    return Case(call, [str(run)], f"{family} run [{'; '.join(whats)}] then {command}")


CONFIG_TARGETS = {"yaml-config": yaml_config, "set-values": set_items, "run-dir": damaged_run}
