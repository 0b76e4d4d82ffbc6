"""Fixtures: a toy nbgrader course in a temporary folder, built once and copied per test."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import toy  # noqa: E402

from autograder import sandbox  # noqa: E402


@pytest.fixture(scope="session")
def toy_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy course, released once per session."""
    return toy.make_course(tmp_path_factory.mktemp("toy-template") / "course")


@pytest.fixture
def course(toy_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the released toy course (its gradebook has the assignment, no students)."""
    root = tmp_path / "course"
    shutil.copytree(toy_template, root)
    return root


@pytest.fixture
def small_limits() -> sandbox.Limits:
    """Tight limits so hostile cases end quickly."""
    return sandbox.Limits(cell_timeout=4, submission_timeout=90, memory_mb=768, nproc=64)
