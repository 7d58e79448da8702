"""The package's structure, read from its source. Imports run one way: every import of a genforge module (at
module level or inside a function) is an edge, and the graph has no cycle, among modules and among packages.
An import inside a function is there only to defer a heavy or optional dependency, and says so in a
`# deferred:` comment. No function is over 80 lines. The core names no modality's folder, and each modality's
manifest declares what its folder registers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import genforge

ROOT = Path(genforge.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.ImportFrom | ast.Import, module: str, is_package: bool) -> list[str]:
    """The absolute names an import statement may load: the module itself and module.name for each name."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" for a in node.names] + [target]


def walk(tree: ast.AST, in_function: bool = False):
    """(import node, whether it is inside a function) for every import of a tree."""
    for child in ast.iter_child_nodes(tree):
        inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        yield from walk(child, inside)


def package_sources() -> dict[str, tuple[Path, ast.AST]]:
    return {module_name(p): (p, ast.parse(p.read_text())) for p in sorted(ROOT.rglob("*.py"))}


def import_graph(sources) -> dict[str, set[str]]:
    """module -> the genforge modules it imports (the first name of each import that is a module)."""
    graph = {m: set() for m in sources}
    for m, (path, tree) in sources.items():
        for node, _ in walk(tree):
            hit = next((t for t in imported(node, m, path.name == "__init__.py") if t in sources), None)
            if hit is not None and hit != m:
                graph[m].add(hit)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path [a, b, ..., a], or None (depth-first search, colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_passes_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    sources = package_sources()
    graph = import_graph(sources)
    assert len(graph) > 100 and graph["genforge.run"] >= {"genforge.config", "genforge.modalities", "genforge.models"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def block_start(tree: ast.AST, node: ast.stmt) -> ast.stmt:
    """The first of the run of import statements that `node` belongs to (in the same body)."""
    for parent in ast.walk(tree):
        body = getattr(parent, "body", None)
        if isinstance(body, list) and node in body:
            i = body.index(node)
            while i > 0 and isinstance(body[i - 1], (ast.Import, ast.ImportFrom)):
                i -= 1
            return body[i]
    return node


def test_imports_inside_functions_say_why_they_are_deferred():
    undeclared = []
    for path, tree in package_sources().values():
        lines = path.read_text().splitlines()
        for node, in_function in walk(tree):
            first = block_start(tree, node) if in_function else None
            # the reason stands on the import's line or on the line above the run of imports it belongs to
            if in_function and not any("# deferred:" in lines[i] for i in (node.lineno - 1, first.lineno - 2)):
                undeclared.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not undeclared, "imports inside functions without a '# deferred:' reason:\n" + "\n".join(undeclared)


MAX_LINES = 80


def test_no_function_is_over_80_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
        for path, tree in package_sources().values()
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= MAX_LINES
    ]
    assert not long, "functions over 80 lines:\n" + "\n".join(long)


def package_of(module: str) -> str:
    """The package a module counts in for the package graph: a modality's folder (genforge.modalities.text),
    a core package (genforge.train), or the module itself at the top level (genforge.cli). A modality's bench
    rows and fuzz cases count in the benchmark's and fuzz campaign's packages, whose parts they are."""
    parts = module.split(".")
    if parts[1:2] == ["modalities"] and len(parts) == 4 and parts[3].startswith(("bench", "fuzz")):
        return f"genforge.{parts[3].split('_')[0]}"  # a modality's rows of the benchmark or the fuzz campaign
    if parts[1:2] == ["modalities"] and len(parts) > 3:
        return ".".join(parts[:3])
    if parts[1:2] == ["modalities"] and len(parts) == 3 and (ROOT / "modalities" / parts[2]).is_dir():
        return module
    return ".".join(parts[:2])


def test_packages_import_one_way():
    graph = import_graph(package_sources())
    packages: dict[str, set[str]] = {}
    for m, targets in graph.items():
        packages.setdefault(package_of(m), set()).update(package_of(t) for t in targets)
    packages = {p: ts - {p} for p, ts in packages.items()}
    assert packages["genforge.modalities.music"] >= {"genforge.modalities.text", "genforge.modalities.audio"}
    cycle = find_cycle(packages)
    assert cycle is None, "package import cycle: " + " -> ".join(cycle)


# The core's few imports of a modality folder, each with its reason; the list may only shrink.
CORE_USES_OF_A_MODALITY = {
    ("genforge.sample.animate", "genforge.modalities.video"),  # an image model's walks are clips: video writes them
    ("genforge.cli", "genforge.modalities.image"),  # the demo's data: Fashion-MNIST where installed
}


def test_the_core_names_no_modality_folder():
    """Trainer, sampler, evaluator, tuner, report, server and data layer ask the registries; benchmarks and fuzz
    campaigns (which measure or attack named data) may name a modality."""
    sources = package_sources()
    uses = set()
    for m, targets in import_graph(sources).items():
        if package_of(m).startswith("genforge.modalities") or package_of(m) in ("genforge.bench", "genforge.fuzz"):
            continue
        uses |= {(m, package_of(t)) for t in targets if package_of(t).startswith("genforge.modalities.")}
    assert uses <= CORE_USES_OF_A_MODALITY, f"the core imports a modality's folder: {uses - CORE_USES_OF_A_MODALITY}"


def test_each_manifest_declares_what_its_folder_registers():
    from genforge.data.base import SOURCES
    from genforge.modalities import manifests
    from genforge.models import FAMILIES

    families = FAMILIES.names()
    for m in manifests().values():
        assert set(m.families) == {f for f in families if FAMILIES.get(f).modality == m.name}, m.name
        own = {s.name for s in SOURCES.values() if s.modality == m.name}
        built_in = {n for s in SOURCES.values() if s.modality == m.name for n in m.data_sets if s.probe(n)}
        assert set(m.data_sets) == built_in and m.data_sets, (m.name, own)
        assert not m.missing(), f"{m.name}: the test machine lacks {m.missing()} ({m.install_hint()})"


def test_a_modality_whose_extra_is_missing_names_the_install(monkeypatch):
    from genforge.errors import GenforgeError
    from genforge.modalities import manifest

    music = manifest.manifests()["music"]
    monkeypatch.setattr(manifest.Manifest, "missing", lambda self: ["music21"] if self is music else [])
    for name in ("music-vae", "bach-chorales"):
        with pytest.raises(
            manifest.MissingExtra, match=rf"'{name}' \(music\) needs music21: pip install 'genforge\[music\]'"
        ):
            manifest.provide(name)
    manifest.provide("dcgan")  # the others load as before
    assert issubclass(manifest.MissingExtra, GenforgeError)


def test_pyproject_has_an_extra_for_every_modality_and_one_version():
    import tomllib

    from genforge.modalities import manifests

    meta = tomllib.loads((ROOT.parents[1] / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]

    imports = {"scikit_image": "skimage", "pyyaml": "yaml"}  # distributions whose import name is not theirs

    def resolved(extra: str) -> set[str]:
        """The import names of the distributions an extra installs, following genforge[...] references."""
        out = set()
        for req in extras[extra]:
            if req.startswith("genforge["):
                out |= {d for e in req[9:].split("]")[0].split(",") for d in resolved(e)}
            else:
                name = re.split(r"[<>=\[ ;]", req)[0].lower().replace("-", "_")
                out.add(imports.get(name, name))
        return out

    for m in manifests().values():
        if m.requires:
            assert set(m.requires) <= resolved(m.extra), (m.name, m.requires, resolved(m.extra))
            assert resolved(m.extra) <= resolved("all"), m.extra
    assert "version" in meta["dynamic"] and "version" not in meta  # one source: genforge/version.py
