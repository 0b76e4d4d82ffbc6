"""Shared fixtures: the course root, a scratch copy of the course, and things built once per run.

Under pytest-xdist every worker has its own session, so a session fixture alone would build its thing once per
worker. :func:`built_once` builds it once per *run*: the first worker to ask builds it under a file lock in the
run's shared temporary folder, the others wait for it and reuse it.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest
from filelock import FileLock

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


def shared_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this run sees (the run's temporary folder; the session's without xdist)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """``build(folder)`` once per run for ``name``; every caller, in every worker, gets that folder.

    A build that raises leaves nothing behind, so the next caller tries again (and fails with its own error).
    Callers treat the folder as read-only and copy what they change.
    """
    home = shared_folder(factory) / "built-once"
    home.mkdir(exist_ok=True)
    folder, done = home / name, home / f"{name}.done"
    with FileLock(str(home / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            try:
                build(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            done.touch()
    return folder
