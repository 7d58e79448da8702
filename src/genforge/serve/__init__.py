"""The generation server: an HTTP API and a page."""

from .app import create_app, serve

__all__ = ["create_app", "serve"]
