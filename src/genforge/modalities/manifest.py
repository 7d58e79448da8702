"""What each modality folder declares without importing its code: its names, its built-in data sets and
families, and the install extra it needs.

A modality is a folder `modalities/<name>/` whose `__init__.py` holds a `MANIFEST` (plain data: importing it
loads neither torch nor the modality's libraries) and whose `register.py` imports the code that registers its
modality, sources, families and metrics. Folders are found by listing this package, so a new modality is its
folder alone. `genforge --help` reads only manifests; the registries (MODALITIES, FAMILIES, SOURCES, METRICS)
call `provide` to import a modality's code when one of its names is first asked for, and a modality whose
extra is not installed says which `pip install` brings it.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from functools import cache
from typing import Optional

from ..errors import GenforgeError


class MissingExtra(GenforgeError):
    """A modality's libraries are not installed: the message names the extra that installs them."""


@dataclass(frozen=True)
class Manifest:
    """A modality's names, for help texts, errors and lazy loading."""

    name: str  # the modality's name (image, text, ...)
    summary: str  # what its data is, in a phrase for help texts
    data_sets: tuple[str, ...]  # its built-in data sets (the first: the default `--data`)
    families: tuple[str, ...]  # every family that generates it
    paths: str  # the files and folders its sources read, for help texts
    outputs: str  # what `genforge sample --out` writes for it
    extra: Optional[str] = None  # the pip extra that installs its libraries (None: the core's)
    requires: tuple[str, ...] = ()  # the import names that extra brings
    probe_order: int = 50  # sources of lower orders are asked first which one reads a path
    # `--model auto`: (budget in minutes from which it applies, family, why) ascending, each the family measured
    # best for this modality from that budget on (the family then picks its preset for the budget)
    picks: tuple[tuple[float, str, str], ...] = ()
    # built-in data sets whose measured best family is not the modality's: data set -> (family, why)
    data_picks: tuple[tuple[str, str, str], ...] = ()

    @property
    def default_data(self) -> str:
        return self.data_sets[0]

    def missing(self) -> list[str]:
        """The required libraries that are not installed."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def install_hint(self) -> str:
        return f"pip install 'genforge[{self.extra}]'"

    def pick(self, minutes: Optional[float], source: Optional[str] = None) -> tuple[str, str]:
        """(family, why) measured best for the data set `source` (its own pick) or else for this modality, at a
        budget of `minutes` (None: no time budget)."""
        for data_set, fam, reason in self.data_picks:
            if source == data_set:
                return fam, reason
        family, why = self.picks[0][1:]
        for start, fam, reason in self.picks:
            if minutes is not None and minutes >= start:
                family, why = fam, reason
        return family, why


@cache
def manifests() -> dict[str, Manifest]:
    """name -> manifest of every modality folder, in probe order."""
    found = []
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if info.ispkg:
            manifest = getattr(importlib.import_module(f"{__package__}.{info.name}"), "MANIFEST", None)
            if manifest is not None:
                found.append(manifest)
    return {m.name: m for m in sorted(found, key=lambda m: (m.probe_order, m.name))}


def owner(name: str) -> Optional[Manifest]:
    """The manifest that declares `name` as its modality, one of its data sets or one of its families."""
    for m in manifests().values():
        if name == m.name or name in m.data_sets or name in m.families:
            return m
    return None


def load(modality: str, why: str = "") -> None:
    """Import a modality's registrations; a missing extra raises one line naming the install."""
    m = manifests()[modality]
    missing = m.missing()
    if missing:
        what = why or f"the {modality} modality"
        raise MissingExtra(f"{what} needs {', '.join(missing)}: {m.install_hint()}")
    importlib.import_module(f"{__package__}.{modality}.register")


@cache
def load_available() -> None:
    """Import every modality whose libraries are installed (once)."""
    for m in manifests().values():
        if not m.missing():
            load(m.name)


_loading: list[str] = []  # the modalities being imported now (their registrations may list a registry)


def provide(name: Optional[str]) -> None:
    """What a registry calls before it looks a name up (None: before it lists its names): the modality that
    declares the name is loaded (or says which extra it needs); otherwise every installed one is. While a
    modality's registrations are being imported, a listing (or a name of that modality) sees what is registered
    so far, and a name of another modality loads that one."""
    m = owner(name) if name is not None else None
    if _loading and (m is None or m.name in _loading):
        return
    _loading.append(m.name if m is not None else "")
    try:
        if m is None:
            load_available()
        else:
            load(m.name, f"'{name}' ({m.name})")
    finally:
        _loading.pop()
