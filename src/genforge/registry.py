"""A name -> object registry: a new model family or data source is one registration."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Optional, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def nearest(name: str, choices) -> str:
    """' (did you mean X?)' for the closest choice, or '' when none is close."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


class Registry(Generic[T]):
    """Named objects of one kind. `provider(name)` is called before a name that is not registered yet is looked
    up, and `provider(None)` before the names are listed: it imports the code that registers them (a modality's
    folder, on first use), so that a registry is complete without importing every modality up front."""

    def __init__(self, kind: str, provider: Optional[Callable[[Optional[str]], None]] = None):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._provider = provider

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        if name not in self._items and self._provider is not None:
            self._provider(name)
        if name not in self._items:
            raise ConfigError(
                f"unknown {self.kind} '{name}'{nearest(name, self._items)}; expected one of: {', '.join(self.names())}"
            )
        return self._items[name]

    def _complete(self) -> None:
        if self._provider is not None:
            self._provider(None)

    def names(self) -> list[str]:
        self._complete()
        return sorted(self._items)

    def values(self) -> list[T]:
        """The registered objects in registration order."""
        self._complete()
        return list(self._items.values())

    def __contains__(self, name: str) -> bool:
        self._complete()
        return name in self._items
