"""`genforge runs [FOLDER]`: every run under a folder in one table (family, preset, data, steps,
status, headline figure beside its floor, size on disk)."""

from __future__ import annotations

from pathlib import Path

from ..errors import RunError
from ..io import read_json
from ..run import CONFIG, read_status

HEADLINE = ("fid", "fd")  # the figure a run is summed up by, the first one its eval.json has


def find_runs(folder: str | Path) -> list[Path]:
    """Run directories (holding config.json) at or below `folder`, sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such folder")
    if (folder / CONFIG).is_file():
        return [folder]
    return sorted(p.parent for p in folder.rglob(CONFIG))


def _size_mb(run: Path) -> float:
    return sum(f.stat().st_size for f in run.rglob("*") if f.is_file()) / 2**20


def headline(run: Path) -> tuple[str, str]:
    """(figure name, 'value (floor F)') from eval.json, or ('', '') when the run is not evaluated."""
    path = run / "eval.json"
    if not path.is_file():
        return "", ""
    metrics = read_json(path)["metrics"]
    for name in HEADLINE:
        if name in metrics:
            m = metrics[name]
            floor = f" (floor {m['floor']:.3g})" if m.get("floor") is not None else ""
            return name, f"{m['value']:.4g}{floor}"
    return "", ""


def run_row(run: Path, root: Path) -> dict:
    """One run's summary; a run whose config cannot be read shows why."""
    try:
        raw = read_json(run / CONFIG)
        family, preset, data = raw["family"], raw["preset"], raw["dataset"]["name"]
    except (RunError, KeyError, TypeError) as e:
        family, preset, data = "?", "?", f"unreadable {CONFIG} ({e.__class__.__name__})"
    st = read_status(run)
    step = st.get("step")
    total = st.get("total")
    fig, value = headline(run)
    return {
        "run": str(run.relative_to(root)) if run != root else run.name,
        "family": family,
        "preset": preset,
        "data": data,
        "steps": "" if step is None else f"{step}" + (f"/{total}" if total else ""),
        "status": st["state"],
        "figure": f"{fig} {value}".strip(),
        "size_mb": round(_size_mb(run), 1),
    }


def runs_table(folder: str | Path) -> str:
    """A plain-text table of every run under `folder`."""
    root = Path(folder)
    rows = [run_row(r, root) for r in find_runs(root)]
    if not rows:
        return f"no runs under {root} (a run is a folder with {CONFIG})"
    cols = ["run", "family", "preset", "data", "steps", "status", "figure", "size_mb"]
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(width[c]) for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(width[c]) for c in cols) for r in rows]
    return "\n".join(lines)
