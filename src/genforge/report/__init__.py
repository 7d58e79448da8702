"""Reports: one self-contained HTML page per run or per tuning study."""

from pathlib import Path

from .html import write_report as write_run_report
from .study import write_study_report


def write_report(folder, out=None) -> Path:
    """report.html for a run directory, or for a study folder (one holding study.json)."""
    if (Path(folder) / "study.json").is_file():
        return write_study_report(folder)
    return write_run_report(folder, out)


__all__ = ["write_report", "write_run_report", "write_study_report"]
