"""The package version, recorded in every weights file."""

__version__ = "0.1.0"
