"""Errors a user can act on. The CLI prints their message, never a traceback."""


class GenforgeError(Exception):
    """Base class: the message says what was wrong and what was expected."""


class ConfigError(GenforgeError):
    """A config key or value is unknown or out of range."""


class DataError(GenforgeError):
    """A data source is missing, unreadable or unusable."""


class RunError(GenforgeError):
    """A run directory is missing files or holds something unexpected."""
