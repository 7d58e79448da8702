"""A model card for every run, RUN/README.md, in the Hugging Face model-card form (a YAML header, then
Markdown): what the model is, its data, its training, its evaluation beside the real-data floors, the
memorization audit, intended use and limitations, and how to verify its outputs.

Written when training ends and refreshed by `genforge evaluate`; built from the run directory alone
(config.json, data.json, status.json, metrics.jsonl, eval.json), so it can be rewritten at any time.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml

from ..errors import RunError
from ..io import CONFIG, STATUS, atomic_write, read_json, read_metrics
from ..models import FAMILIES
from ..version import __version__
from .log import LOG

CARD = "README.md"


def _read(path: Path):
    """A JSON file of the run, or None where it is missing or damaged (the card says what it lacks)."""
    try:
        return read_json(path)
    except RunError:
        return None


def _last_metrics(run: Path) -> dict:
    """The last training record with the elapsed time (empty before the first)."""
    return next((r for r in reversed(read_metrics(run / "metrics.jsonl")) if "elapsed_s" in r), {})


def _command(cfg: dict, run: Path) -> str:
    """The `genforge train` line that repeats this run's configuration (its budget included)."""
    t = cfg.get("train", {})
    budget = " ".join(f"--{k} {t[k]}" for k in ("steps", "epochs", "minutes") if t.get(k) is not None)
    return (
        f"genforge train --model {cfg['family']} --preset {cfg['preset']} --data {cfg['data']['source']} "
        f"{budget} --out {run}".replace("  ", " ")
    )


def _family_line(family: str) -> str:
    """The first paragraph of the family's module docstring (what the family is, with its reference)."""
    doc = (inspect.getmodule(FAMILIES.get(family)).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


# licence identifiers the Hugging Face hub knows, from the first word of a data set's stated licence
HUB_LICENCES = {"mit": "mit", "cc-by-4.0": "cc-by-4.0", "gpl-3.0-or-later": "gpl-3.0", "bsd-3-clause": "bsd-3-clause",
                "apache-2.0": "apache-2.0", "cc0-1.0": "cc0-1.0"}  # fmt: skip


def hub_licence(licence: str | None) -> str:
    """A header `license` value: the hub's identifier of the data's licence, "other" or "unknown"."""
    if not licence:
        return "unknown"
    return HUB_LICENCES.get(licence.split()[0].lower(), "other")


def _eval_table(ev: dict) -> list[str]:
    rows = ["| metric | value | interval | real-data floor |", "|---|---|---|---|"]
    for name, m in ev.get("metrics", {}).items():
        iv = m.get("interval")
        floor = m.get("floor")
        rows.append(
            f"| {name} | {m.get('value', float('nan')):.4g} | "
            f"{f'[{iv[0]:.4g}, {iv[1]:.4g}]' if iv else ''} | {'' if floor is None else f'{floor:.4g}'} |"
        )
    return rows


def _memorization(ev: dict | None) -> list[str]:
    if not ev or "memorization" not in ev.get("metrics", {}):
        return ["Not measured yet: `genforge evaluate RUN` measures the share of samples closer to a training item "
                "than held-out real items come (near copies) and writes it here."]  # fmt: skip
    m = ev["metrics"]["memorization"]
    floor = m.get("floor")
    return [
        f"Near copies among {ev.get('n_fake')} samples: {m['value']:.4f}"
        + (f" (held-out real items: {floor:.4f})" if floor is not None else "")
        + f"; a near copy is closer to its nearest training item than {m.get('threshold', 0):.4g}, the 1% "
        "quantile of held-out real items' distances. `genforge sample` draws such samples again by default "
        "(`--allow-copies` keeps them) and counts them in the file's manifest."
    ]


def _header(cfg: dict, licence: str | None) -> list[str]:
    """The card's YAML header lines, between its --- fences."""
    ds = cfg.get("dataset", {})
    header = {
        "library_name": "genforge",
        "license": hub_licence(licence),
        "tags": ["genforge", cfg.get("family", "?"), ds.get("modality", "?"), "generated-content", "c2pa"],
        "datasets": [str(ds.get("name", cfg.get("data", {}).get("source", "?")))],
    }
    return ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).strip(), "---"]


def model_card(run: Path) -> str:
    """The model card of a run directory, as Markdown with a YAML header."""
    run = Path(run)
    cfg = _read(run / CONFIG) or {}
    data = _read(run / "data.json") or {}
    status = _read(run / STATUS) or {}
    ev = _read(run / "eval.json")
    last = _last_metrics(run)
    ds = cfg.get("dataset", {})
    family, modality = cfg.get("family", "?"), ds.get("modality", "?")
    licence = data.get("licence")
    problems = data.get("problems") or []
    lines = [
        *_header(cfg, licence),
        "",
        f"# {run.resolve().name}: {family} on {ds.get('name', '?')}",
        "",
        f"A generative model ({modality}) trained with genforge {__version__}. {_family_line(family)}",
        "",
        "## Model",
        "",
        f"- family: `{family}`, preset `{cfg.get('preset')}`; {ds.get('n_classes', 0)} classes"
        + (f" ({', '.join(map(str, ds.get('class_names') or []))})" if ds.get("class_names") else ""),
        f"- shape of one item: {ds.get('shape')}; weights: `model.safetensors` (export: `genforge export {run}`)",
        "",
        "## Data",
        "",
        f"- source: `{cfg.get('data', {}).get('source')}`; licence: {licence or 'unknown (a user data set)'}",
        f"- fingerprint: `{ds.get('fingerprint')}`; {ds.get('n_train')} training and {ds.get('n_test')} "
        f"held-out items; split: {ds.get('split')}",
        f"- files skipped: {len(problems)}" + (f" (listed in `{run}/data.json`)" if problems else ""),
        "",
        "## Training",
        "",
        f"- command: `{_command(cfg, run)}`" if cfg else "- command: unknown (no config.json)",
        f"- state: {status.get('state', '?')} at step {status.get('step', '?')}"
        + (f"; {last['elapsed_s'] / 60:.1f} minutes of training" if "elapsed_s" in last else "")
        + (f" on {last['threads']} thread(s)" if "threads" in last else ""),
        "",
        "## Evaluation",
        "",
        *(
            [
                f"`genforge evaluate {run}`, {ev.get('n_fake')} samples; each figure beside its real-data floor:",
                "",
                *_eval_table(ev),
            ]
            if ev
            else [f"Not evaluated yet: `genforge evaluate {run}` fills this section."]
        ),  # fmt: skip
        "",
        "## Memorization audit",
        "",
        *_memorization(ev),
        "",
        "## Intended use and limitations",
        "",
        f"- Intended: making synthetic data ({modality}) like the training data, for research, prototyping, data "
        "augmentation and teaching, with each output marked as generated.",
        "- Not intended: passing outputs off as real recordings, pictures or texts, or as the work of a person; "
        "uses the data's licence does not allow.",
        "- Limits: the model knows only its training data (biases and gaps included); metrics are measured by "
        "networks trained on that same data, not by people; small data sets are memorized more easily.",
        "",
        "## Verifying its outputs",
        "",
        "Every file genforge writes from this run carries a signed C2PA manifest (or a `FILE.c2pa` sidecar) naming "
        f"this run, and `{LOG}` keeps robust fingerprints of each sample. Check a file with "
        f"`genforge verify FILE --runs {run.parent}`; docs/safety.md says what a manifest and a fingerprint "
        "match prove and what they do not.",
        "",
    ]
    return "\n".join(lines)


def write_card(run: Path) -> Path:
    """Write (or refresh) RUN/README.md."""
    path = Path(run) / CARD
    atomic_write(path, model_card(run).encode())
    return path
