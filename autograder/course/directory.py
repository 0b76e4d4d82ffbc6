"""The nbgrader course directory: its config, settings, gradebook URL, assignments and submissions.

A command opens its course once (:meth:`Course.open`: the config file is read there and nowhere else) and passes
the :class:`Course` down. Opening a course changes nothing in the process (the PATH included: see :func:`tools_path`).
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from typing import Literal

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.course.settings import Autograder, load as load_settings
from autograder.errors import UserError
from autograder.sandbox.limits import Limits

CONFIG_NAME = "nbgrader_config.py"
#: Where the grading image keeps its course (``$AUTOGRADER_COURSE`` overrides it).
BAKED_COURSE = "/opt/course"


def load_config(root: Path) -> Config:
    """The course's ``nbgrader_config.py`` as a traitlets Config (empty when there is none)."""
    path = root / CONFIG_NAME
    if not path.exists():
        return Config()
    try:
        return PyFileConfigLoader(CONFIG_NAME, path=str(root)).load_config()
    except Exception as exc:  # the file is instructor code: any error is the instructor's to fix
        raise UserError(f"{path} could not be loaded ({exc})", "fix the nbgrader config file") from exc


@dataclass(frozen=True)
class Course:
    """A course directory, its nbgrader config and the grader's settings from it (``c.Autograder``)."""

    root: Path
    config: Config
    db_url: str
    course_id: str
    settings: Autograder

    @classmethod
    def open(cls, root: Path, db_url: str | None = None) -> "Course":
        """Open the course at ``root``; ``db_url`` overrides the config's gradebook URL."""
        root = Path(root).resolve()
        if not root.is_dir():
            raise UserError(f"course directory {root} does not exist", "pass the course root (where nbgrader_config.py is)")
        config = load_config(root)
        cd = config.get("CourseDirectory", {})
        url = db_url or cd.get("db_url") or f"sqlite:///{root / 'gradebook.db'}"
        return cls(root=root, config=config, db_url=str(url), course_id=str(cd.get("course_id") or "default_course"),
                   settings=load_settings(config, root / CONFIG_NAME))

    def limits(self) -> Limits:
        """Per-submission limits: the settings', with nbgrader's per-cell time limit where the config sets one."""
        cell = self.config.get("Execute", {}).get("timeout") or self.config.get("ExecutePreprocessor", {}).get("timeout")
        return self.settings.limits(cell)

    def assignments(self, folder: Literal["source", "release"] = "source") -> list[str]:
        """The assignments of ``source/`` (the instructor's) or ``release/`` (what a grading image holds), sorted."""
        base = self.root / folder
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))

    def submission_dir(self, student: str, assignment: str) -> Path:
        """``submitted/<student>/<assignment>``."""
        return self.root / "submitted" / student / assignment

    def autograded_dir(self, student: str, assignment: str) -> Path:
        """``autograded/<student>/<assignment>``."""
        return self.root / "autograded" / student / assignment

    def state_dir(self, assignment: str) -> Path:
        """Where the autograder keeps its ledger (hidden from nbgrader's student globs)."""
        return self.root / "autograded" / ".autograder" / assignment

    def students(self, assignment: str) -> list[str]:
        """Every student with a ``submitted/<student>/<assignment>/`` folder, sorted."""
        base = self.root / "submitted"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if not p.name.startswith(".") and (p / assignment).is_dir())

    def sqlite_path(self) -> Path | None:
        """The gradebook file when the gradebook is SQLite."""
        prefix = "sqlite:///"
        return Path(self.db_url[len(prefix):]) if self.db_url.startswith(prefix) else None


def regular_files(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (symbolic links and special files skipped), sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in filenames:
            p = Path(dirpath, name)
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return sorted(out)


def fingerprint(folder: Path) -> str:
    """A hash of a submission's files: a resubmission changes it, a re-run does not."""
    h = hashlib.sha256()
    for path in regular_files(folder):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def tools_path(path: str | None = None, python: str | os.PathLike[str] | None = None) -> str:
    """``path`` (default: this PATH) with the interpreter's bin folder first, once.

    The one PATH helper: nbgrader runs ``alembic`` from PATH, and kernels and tools must come from
    the same environment as the grader.
    """
    bin_dir = str(Path(python or sys.executable).parent)
    parts = [p for p in (os.environ.get("PATH", "") if path is None else path).split(os.pathsep) if p]
    return os.pathsep.join([bin_dir, *[p for p in parts if p != bin_dir]])


def ensure_tools_on_path() -> None:
    """Put this interpreter's bin folder first on this process's PATH (see :func:`tools_path`).

    Called once by each entry point (the command line, the worker), never by a library function: nbgrader's
    gradebook runs ``alembic`` from PATH when it creates a database.
    """
    os.environ["PATH"] = tools_path()


def baked_course_dir() -> Path:
    """The course baked into a grading image or unpacked by the Gradescope zip (``$AUTOGRADER_COURSE``)."""
    return Path(os.environ.get("AUTOGRADER_COURSE") or BAKED_COURSE)
