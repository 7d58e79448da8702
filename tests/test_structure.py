"""The package's structure, read from its source. Imports run one way: every import of a genforge module (at
module level or inside a function) is an edge, and the graph has no cycle. An import inside a function is
there only to defer a heavy or optional dependency, and says so in a `# deferred:` comment. The server, the
tuner and the benchmarks are small functions."""

from __future__ import annotations

import ast
from pathlib import Path

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


def test_no_function_in_the_server_tuner_or_benchmarks_is_over_80_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
        for path, tree in package_sources().values()
        if path.parent.name in ("serve", "tune", "bench")
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= MAX_LINES
    ]
    assert not long, "functions over 80 lines:\n" + "\n".join(long)
