"""Shared fixtures: the course root, a scratch copy of the course, and a notebook runner."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# nbgrader runs `alembic` from PATH, and kernels must start from this virtual environment.
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def course_root() -> Path:
    """The repository root, which is the nbgrader course directory."""
    return ROOT


def copy_course(dest: Path, assignments: tuple[str, ...] = ("unet",)) -> Path:
    """A scratch course: nbgrader_config.py plus source/ and release/ of the given assignments."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    for name in assignments:
        for part in ("source", "release"):
            if (ROOT / part / name).is_dir():
                shutil.copytree(ROOT / part / name, dest / part / name)
    return dest


@pytest.fixture
def scratch_course(tmp_path: Path) -> Path:
    """A fresh copy of the course with the unet assignment, in a temporary folder."""
    return copy_course(tmp_path / "course")
