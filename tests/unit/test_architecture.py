"""The shape the architecture promises (docs/ARCHITECTURE.md): no import circle inside the package,
and aiohttp only at the edges (the HTTP layer, the CLI, the test handles and the pytest plugin)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mock_sprinto"
EDGES = ("http", "cli", "testing", "pytest_plugin")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module's imports, lazy ones inside functions included: a circle hidden in a function
    is still two modules that cannot be understood (or moved) one without the other."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = found
    return graph


def test_no_module_of_the_package_imports_itself_back_through_a_circle() -> None:
    graph = _imports()
    modules = set(graph)
    edges = {
        name: {target for target in imports if target in modules and target != name} for name, imports in graph.items()
    }
    # A package's __init__ re-exporting its own modules is not a circle worth naming.
    for name in list(edges):
        edges[name] = {t for t in edges[name] if not (t.startswith(name + ".") and name in modules)}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(edges[name]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name)


def test_only_the_edges_import_aiohttp() -> None:
    offenders = [
        name
        for name, imports in _imports().items()
        if any(target == "aiohttp" or target.startswith("aiohttp.") for target in imports)
        and not any(name == f"mock_sprinto.{edge}" or name.startswith(f"mock_sprinto.{edge}.") for edge in EDGES)
    ]
    assert offenders == [], f"the domain imports aiohttp: {offenders}"
