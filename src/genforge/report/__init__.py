"""Reports: one self-contained HTML page per run."""

from .html import write_report

__all__ = ["write_report"]
