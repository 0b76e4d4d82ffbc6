"""The modules of data_fetch import each other without a circle (imports inside functions included)."""
from __future__ import annotations

import ast
from pathlib import Path

import data_fetch

PACKAGE = Path(data_fetch.__file__).parent
NAME = "data_fetch"


def _modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (the package itself as ``data_fetch``)."""
    return {NAME if path.stem == "__init__" else f"{NAME}.{path.stem}": path for path in sorted(PACKAGE.glob("*.py"))}


def _resolve(base: str, name: str, modules: dict[str, Path]) -> str | None:
    """``base.name`` when that is a module of the package, else ``base`` when it is one, else None."""
    full = f"{base}.{name}" if base and name else base or name
    if full in modules:
        return full
    return base if base in modules else None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source: at the top, in functions, in
    ``if TYPE_CHECKING:`` blocks. Imports by computed name (``importlib.import_module``) are not seen."""
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, "", modules)
                if target is not None:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                target = _resolve(base, alias.name, modules)
                if target is not None:
                    found.add(target)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = _modules()
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path that ends where it starts, or None when the graph has none."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_reader_sees_relative_absolute_and_function_level_imports() -> None:
    graph = import_graph()
    assert graph["data_fetch.scenes"] >= {"data_fetch.objects", "data_fetch.street", "data_fetch.labels"}
    assert "data_fetch.normalize" in graph["data_fetch.kaggle"]
    assert graph["data_fetch"] >= {"data_fetch.errors", "data_fetch.labels", "data_fetch.layout"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_and_type_checking_blocks_count(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from .street import Street\n"
                      "def late() -> None:\n    from .objects import place_objects\n"
                      "    import data_fetch.labels\n", encoding="utf-8")
    found = imports_of("data_fetch.probe", source, _modules())
    assert found == {"data_fetch.street", "data_fetch.objects", "data_fetch.labels"}


def test_no_import_circle_within_data_fetch() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])
