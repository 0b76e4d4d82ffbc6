"""The grader's house rules, read from the code's imports (every import, also inside functions)."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "autograder"
SIDES = ("contracts", "course", "host", "run", "sandbox", "platforms", "instructor")
#: side -> what of the kit it may import besides itself, autograder.errors and outside libraries. From the top down:
#: platforms > instructor > host > course > sandbox > contracts, with run (beside student code) apart from host.
MAY = {
    "contracts": (),
    "sandbox": ("contracts",),
    "course": ("contracts", "sandbox"),
    "run": ("contracts", "sandbox", "course", "test_utils"),
    "host": ("contracts", "sandbox", "course", "data_fetch"),
    "instructor": ("contracts", "sandbox", "course", "host", "run.judge", "test_utils"),
    "platforms": ("contracts", "sandbox", "course", "host", "instructor"),
}
#: The kit's other top-level packages: what students import (and the judge beside them) import nothing of the grader.
TOP_MAY = {"test_utils": (), "data_fetch": ()}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "image" not in p.parts)


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, absolute (relative imports resolved)."""
    return _imports_of(path, ".".join(path.relative_to(REPO).with_suffix("").parts[:-1]))


def _imports_of(path: Path, package: str) -> list[str]:
    """Every module the file ``path`` imports, as if it lived in ``package``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
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


def _kit_part(name: str) -> str | None:
    """``autograder.host.grade`` -> ``host``; ``autograder.run.judge.verdict`` -> ``run.judge``; ``test_utils.x`` ->
    ``test_utils``; None for autograder.errors and what is not the kit."""
    parts = name.split(".")
    if parts[0] in TOP_MAY:
        return parts[0]
    if parts[0] != "autograder" or len(parts) < 2 or parts[1] not in SIDES:
        return None
    return "run.judge" if parts[1:3] == ["run", "judge"] else parts[1]


def wrong_way(side: str, imported: list[str]) -> list[str]:
    """The names among ``imported`` that the package ``side`` must not import."""
    allowed = set(MAY.get(side, TOP_MAY.get(side, ()))) | {side}
    if side == "run":
        allowed.add("run.judge")
    bad = []
    for name in imported:
        part = _kit_part(name)
        if part is None or part in allowed or (part == "run.judge" and "run" in allowed):
            continue
        bad.append(name)
    return sorted(set(bad))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_side_imports_what_it_must_not(path: Path) -> None:
    side = _side(path)
    if side is None:
        return  # cli.py, errors.py, __main__.py: the top
    bad = wrong_way(side, _imports(path))
    assert not bad, f"{path.relative_to(PACKAGE)} ({side}/) imports {bad}: allowed are {MAY[side]} (README, 'The grader's house')"


@pytest.mark.parametrize("top", sorted(TOP_MAY))
def test_the_student_packages_import_nothing_of_the_grader(top: str) -> None:
    for path in sorted((REPO / top).rglob("*.py")):
        bad = [name for name in _imports(path) if name.split(".")[0] in {"autograder", *TOP_MAY} - {top}]
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_every_module_belongs_to_a_side_or_the_top() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")} - {"__init__.py", "__main__.py", "cli.py", "errors.py"}
    assert not loose and {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(SIDES)


@pytest.mark.parametrize("side,source,bad", [
    ("host", "from autograder.platforms.slurm import array", True),   # host below platforms
    ("host", "from autograder.run import worker", True),              # host never reaches run: contracts only
    ("course", "from autograder.host import grade", True),
    ("instructor", "from autograder.run.worker import main", True),   # of run, only the judge's references
    ("instructor", "from autograder.run.judge.references import References", False),
    ("platforms", "from autograder.instructor import release", False),
    ("instructor", "from autograder.platforms import lms", True),
    ("sandbox", "import autograder.course.settings", True),
    ("test_utils", "from autograder.run.judge import verdict", True),
])
def test_an_injected_wrong_way_import_is_caught(tmp_path: Path, side: str, source: str, bad: bool) -> None:
    """The rule itself, on a module written here: a wrong-way import fails the test, an allowed one passes."""
    home = PACKAGE / side if side in SIDES else REPO / side
    module = tmp_path / "injected.py"
    module.write_text(source + "\n")
    names = _imports_of(module, ".".join(home.relative_to(REPO).parts))
    assert bool(wrong_way(side, names)) is bad, names


def test_the_launcher_imports_only_the_standard_library() -> None:
    """The sandbox launcher runs as a plain script before the kernel starts: nothing of the kit, nothing installed."""
    siblings = ("launch.py", "view.py", "syscalls.py")  # the launcher loads the other two beside it, by path
    for name in siblings:
        tops = {n.split(".")[0] for n in _imports(PACKAGE / "sandbox" / name)} - {"__future__"}
        assert tops <= set(sys.stdlib_module_names), (name, tops - set(sys.stdlib_module_names))
    loaded = re.findall(r'_sibling\("(\w+)"\)', (PACKAGE / "sandbox" / "launch.py").read_text(encoding="utf-8"))
    assert {f"{n}.py" for n in loaded} <= set(siblings), loaded


def test_every_package_says_its_job_and_modules_stay_small() -> None:
    for side in SIDES:
        init = PACKAGE / side / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len([line for line in doc.splitlines() if line.strip()]) <= 3, init
    longest = max(_modules(), key=lambda p: len(p.read_text(encoding="utf-8").splitlines()))
    assert len(longest.read_text(encoding="utf-8").splitlines()) <= 450, longest
