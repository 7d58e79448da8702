"""Errors a user can act on. The CLI prints their message, never a traceback, and exits with 2 for a usage
error (ConfigError: a key, value or argument), 1 for any other failure, 130 after Ctrl-C (Interrupted)."""

from __future__ import annotations

from pathlib import Path


class GenforgeError(Exception):
    """Base class: the message says what was wrong and what was expected."""


class ConfigError(GenforgeError):
    """A config key or value is unknown or out of range."""


class DataError(GenforgeError):
    """A data source is missing, unreadable or unusable."""


class RunError(GenforgeError):
    """A run directory is missing files or holds something unexpected."""


class Interrupted(Exception):
    """Training was stopped by Ctrl-C after a checkpoint was written."""

    def __init__(self, run: Path, step: int):
        super().__init__(f"stopped at step {step}; checkpoint written. Continue with: genforge train --resume {run}")
        self.run, self.step = run, step
