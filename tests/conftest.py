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

import nbformat
import pytest
from filelock import FileLock

from autograder.instructor import examples

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).parent))  # tests/batches.py and tests/notebook_runs.py, for here and the tests
import batches  # noqa: E402
import notebook_runs  # noqa: E402

# nbgrader runs `alembic` from PATH, and kernels must start from this virtual environment.
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# the xdist groups (tests that share a service run in one process) and the order of the run: tests/xdist_groups.py
pytest_plugins = ["xdist_groups"]


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


@pytest.fixture(scope="session")
def released_course(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``released_course(assignment)``: the course with that assignment released, built once per run (read-only;
    ``batches.copy`` it to change it)."""
    def get(assignment: str) -> Path:
        return built_once(tmp_path_factory, f"released-{assignment}",
                          lambda folder: batches.build_released(folder, assignment))
    return get


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory: pytest.TempPathFactory,
                  released_course: Callable[[str], Path]) -> Callable[[str], Path]:
    """``graded_course(assignment)``: the released course with the batch of ``batches.students(assignment)``
    graded by the kit, once per run (read-only; ``batches.copy`` it to change it)."""
    def get(assignment: str) -> Path:
        template = released_course(assignment)
        return built_once(tmp_path_factory, f"graded-{assignment}",
                          lambda folder: batches.build_graded(folder, assignment, template))
    return get


@pytest.fixture(scope="session")
def source_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``source_run(assignment)``: a folder where the source notebook (solutions and checks) ran top to bottom once
    per run, as a first Run All outside nbgrader: what it trained and saved, and ``executed.ipynb``."""
    def get(assignment: str) -> Path:
        notebook = ROOT / "source" / assignment / examples.ASSIGNMENTS[assignment][0]
        return built_once(tmp_path_factory, f"source-run-{assignment}",
                          lambda folder: notebook_runs.run_into(folder, nbformat.read(notebook, as_version=4)))
    return get


@pytest.fixture(scope="session")
def variants_student_run(tmp_path_factory: pytest.TempPathFactory, source_run: Callable[[str], Path]) -> Path:
    """The released unet_variants notebook with the instructor's answers (a student's finished notebook), run in a
    copy of the source run's folder: a second Run All, which finds the three trained models there."""
    notebook, cases = examples.ASSIGNMENTS["unet_variants"]
    answers = examples.answer_sources(ROOT / "source/unet_variants" / notebook)
    student = examples.build_submission(cases[0], ROOT / "release/unet_variants" / notebook, answers)
    first = source_run("unet_variants")
    return built_once(tmp_path_factory, "variants-student-run",
                      lambda folder: notebook_runs.run_into(folder, student, start_from=first))
