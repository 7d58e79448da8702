"""What happens to every file genforge generates before a user gets it: a signed C2PA manifest (embedded or
a sidecar) and, in the run's generation log, the robust fingerprints of the file and of each sample in it.

`sample`, `translate`, `restore`, `--mode animate`, the Python API's `write_samples` and the server's binary
answers all pass through here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import DataError
from ..modalities import modality_of
from .fingerprints import file_items, kind_of
from .log import append
from .provenance import EMBEDS, SIDECAR, sign_bytes, sign_file


def generation_info(model, **extra) -> dict:
    """The manifest's generation assertion for files of a loaded model: run, family, preset, data, and `extra`
    (seed, mode, the guards' counts)."""
    given = {k: v for k, v in extra.items() if v is not None}
    if model.run_dir is None:  # a model built in code, not loaded from a run: no run or data to name
        return {"family": model.name, **given}
    info, source = model.dataset_info or {}, str(model.run_config.data.source)
    return {
        "run": str(model.run_dir),
        "run_name": Path(model.run_dir).resolve().name,
        "family": model.name,
        "preset": model.run_config.preset,
        "data": {"name": info.get("name"), "source": source, "fingerprint": info.get("fingerprint"),
                 "licence": info.get("licence")},
        **given,
    }  # fmt: skip


def _files(out: Path) -> list[Path]:
    out = Path(out)
    files = [out] if out.is_file() else sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else []
    return [p for p in files if not p.name.endswith(SIDECAR)]


def snapshot(out: Path) -> dict:
    """What is at `out` now (a file, or a folder's files): path -> (inode, mtime, size)."""
    return {p: (st.st_ino, st.st_mtime_ns, st.st_size) for p in _files(out) for st in [p.stat()]}


def written_files(out: Path, before: dict) -> list[Path]:
    """The files at `out` that are new or changed since `snapshot(out)` gave `before`."""
    return [p for p, sig in snapshot(out).items() if before.get(p) != sig]


def _log_fields(info: dict) -> dict:
    """What a log row keeps of the generation's details: its seed and mode."""
    return {k: info[k] for k in ("seed", "mode") if info.get(k) is not None}


def _file_rows(files: list[Path], extra: dict) -> list[dict]:
    rows = []
    for f in files:
        if kind_of(f) is None:
            continue
        try:
            kind, items = file_items(f)
        except DataError:  # a format genforge writes but cannot read back here (no decoder): no row
            continue
        whole = len(items) == 1
        rows += [{"file": str(f), "item": None if whole else i, "kind": kind.name, "fp": fp, **extra}
                 for i, fp in enumerate(items)]  # fmt: skip
    return rows


def sample_rows(model, samples, extra: dict) -> list[dict]:
    """Log rows of each sample of a batch, fingerprinted from the files its modality writes one item a file."""
    mod = modality_of(model)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"items{mod.item_files}"
        mod.write(samples, out)
        rows = _file_rows(written_files(out, {}), extra)
    for i, r in enumerate(rows):  # the files of a folder, or the lines of a file, in sample order
        r.update(file=None, item=i)
    return rows


def publish(model, files: list[Path], samples=None, **extra) -> dict:
    """Sign `files` (just written for `model`) and log their fingerprints, and those of `samples` (the batch in
    them, when a file holds several); `extra` (seed, mode, guard counts) goes into both. Returns the info."""
    info = generation_info(model, **extra)
    for f in files:
        sign_file(f, info)
    if model.run_dir is None:  # no run, no generation log to keep
        return info
    log_extra = _log_fields(info)
    rows = _file_rows(files, log_extra)
    if samples is not None and not (len(files) > 1 and len(rows) == len(files)):  # not a folder of items already
        rows += sample_rows(model, samples, log_extra)
    append(Path(model.run_dir), rows)
    return info


def publish_bytes(model, body: bytes, suffix: str, **extra) -> bytes:
    """A server answer's file bytes, signed (formats C2PA embeds) and logged; other bytes come back unchanged."""
    if suffix.lower() not in EMBEDS:
        return body
    signed, _ = sign_bytes(body, suffix, generation_info(model, **extra), f"answer{suffix}")
    if model.run_dir is None:
        return signed
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"answer{suffix}"
        path.write_bytes(signed)
        rows = _file_rows([path], _log_fields(extra))
    append(Path(model.run_dir), [{**r, "file": "(served)"} for r in rows])
    return signed
