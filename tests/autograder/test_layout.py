"""The grader's house rules, read from the code's imports (every import, also inside functions)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "autograder"
SIDES = ("contracts", "course", "host", "run", "sandbox", "platforms", "instructor")
#: side -> the sides it must never import
NEVER = {
    "host": ("run",),
    "run": ("host", "platforms", "instructor"),
    "sandbox": ("host", "run", "platforms", "instructor", "course"),
    "course": ("host", "run", "platforms", "instructor"),
    "contracts": ("host", "run", "platforms", "instructor", "course", "sandbox"),
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "image" not in p.parts)


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, absolute (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return found


def _side(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 and parts[0] in SIDES else None


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_side_imports_what_it_must_not(path: Path) -> None:
    side = _side(path)
    forbidden = NEVER.get(side or "", ())
    bad = sorted({name for name in _imports(path)
                  if any(name == f"autograder.{f}" or name.startswith(f"autograder.{f}.") for f in forbidden)})
    assert not bad, f"{path.relative_to(PACKAGE)} ({side}/) imports {bad}: talk through autograder.contracts instead"


def test_the_launcher_imports_only_the_standard_library() -> None:
    """The sandbox launcher runs as a plain script before the kernel starts: nothing of the kit, nothing installed."""
    launcher = PACKAGE / "sandbox" / "launch.py"
    tops = {name.split(".")[0] for name in _imports(launcher)} - {"__future__"}
    assert tops <= set(sys.stdlib_module_names), tops - set(sys.stdlib_module_names)


def test_every_package_says_its_job_and_modules_stay_small() -> None:
    for side in SIDES:
        init = PACKAGE / side / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len([line for line in doc.splitlines() if line.strip()]) <= 3, init
    longest = max(_modules(), key=lambda p: len(p.read_text(encoding="utf-8").splitlines()))
    assert len(longest.read_text(encoding="utf-8").splitlines()) <= 450, longest
    top_level = {p.name for p in PACKAGE.glob("*.py")}
    assert top_level <= {"__init__.py", "__main__.py", "cli.py", "errors.py"}, top_level
