"""Regenerate ``release/`` from ``source/`` with nbgrader, and tell whether the committed release is current."""
from __future__ import annotations

import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.course import scratch as scratch_course
from autograder.course.directory import ensure_tools_on_path
from autograder.errors import UserError

__all__ = ["ReleaseError", "list_assignments", "run", "stale_files"]


class ReleaseError(UserError):
    """nbgrader could not generate an assignment; the message carries nbgrader's own explanation."""


def list_assignments(root: Path) -> list[str]:
    """Names of the assignments in ``root/source``, sorted."""
    source = root / "source"
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _generate(root: Path, name: str) -> None:
    ensure_tools_on_path()  # nbgrader runs `alembic` from PATH
    cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force", "--log-level=WARN"]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ReleaseError(f"nbgrader generate_assignment {name} failed in {root}: {last}",
                           f"fix source/{name}/ (run `nbgrader generate_assignment {name} --force` to see the whole log)")


def run(*, root: Path, assignments: list[str] | None = None) -> list[Path]:
    """Generate ``release/<name>/`` for each assignment (all of ``source/`` by default); return the folders."""
    names = assignments if assignments is not None else list_assignments(root)
    missing = [n for n in names if not (root / "source" / n).is_dir()]
    if missing:
        have = list_assignments(root)
        raise ReleaseError(f"no folder source/{missing[0]} in {root}",
                           ("name one of: " + ", ".join(have)) if have else
                           "run this in a course directory (one with source/ASSIGNMENT/), or pass --root")
    for name in names:
        _generate(root, name)
    return [root / "release" / n for n in names]


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def stale_files(*, root: Path, assignment: str) -> list[str]:
    """Files of ``release/<assignment>`` that differ from what ``source/`` generates now (empty when in sync).

    The assignment is generated into a scratch copy of the course, so the course itself is left alone.
    """
    with tempfile.TemporaryDirectory(prefix="release-check-") as scratch:
        course = scratch_course.build(Path(scratch), origin=root, assignment=assignment, source="all")
        _generate(course, assignment)
        fresh, committed = course / "release" / assignment, root / "release" / assignment
        if not committed.is_dir():
            return sorted(_tree(fresh))
        fresh_files, committed_files = _tree(fresh), _tree(committed)
        changed = {f for f in fresh_files & committed_files if not filecmp.cmp(fresh / f, committed / f, shallow=False)}
        return sorted(changed | (fresh_files ^ committed_files))
