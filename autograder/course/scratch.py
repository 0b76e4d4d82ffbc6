"""The one way to lay out a scratch copy of (part of) a course: for a worker, a container, a check, an LMS run.

What a copy holds is stated by the caller, piece by piece: the course's ``nbgrader_config.py``, the
assignment's ``release/`` and ``source/`` folders (``source`` as data files only, so solutions never
leave the instructor's course, or whole where nbgrader must regenerate the release), a link to the
course's ``data/``, and a gradebook file. Only regular files are copied (links and special files in
a course or a submission are skipped), so a copy never reaches outside itself.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Literal

from autograder.course import definition as definitions
from autograder.course.directory import CONFIG_NAME, Course, regular_files
from autograder.course.exercise_book import REFERENCES

__all__ = ["copy_files", "build", "private_course"]

Source = Literal["none", "files", "all"]


def copy_files(src: Path, dest: Path, *, notebooks: bool = True) -> list[Path]:
    """Copy the regular files under ``src`` into ``dest`` (``notebooks=False``: leave ``.ipynb`` out); return them."""
    copied = []
    dest.mkdir(parents=True, exist_ok=True)
    if not src.is_dir():
        return copied
    for path in regular_files(src):
        if not notebooks and path.suffix == ".ipynb":
            continue
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied.append(target)
    return copied


def build(dest: Path, *, origin: Path, assignment: str, config: bool = True, release: bool = False,
          source: Source = "none", data: bool = False, gradebook: Path | None = None,
          references: bool = True) -> Path:
    """Lay out ``dest`` as a course holding what the caller asks for from the course at ``origin``.

    ``source``: ``"files"`` copies the assignment's data files but not its notebooks (the solutions),
    ``"all"`` everything (to regenerate the release). ``data`` links ``dest/data`` to the course's
    dataset. ``gradebook``: a gradebook file copied to ``dest/gradebook.db`` (mode 0600). ``references``:
    the grader's bundles of the assignment (``references/<assignment>/``), copied when the course has them.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if config and (origin / CONFIG_NAME).is_file():
        shutil.copyfile(origin / CONFIG_NAME, dest / CONFIG_NAME)
    if release:
        copy_files(origin / "release" / assignment, dest / "release" / assignment)
    if source != "none":
        copy_files(origin / "source" / assignment, dest / "source" / assignment, notebooks=source == "all")
    if references:  # what the release stored for the grader: grader-side copies only, never a kernel's
        copy_files(origin / REFERENCES / assignment, dest / REFERENCES / assignment)
    if data and (origin / "data").exists() and not (dest / "data").exists():
        (dest / "data").symlink_to((origin / "data").resolve())
    if gradebook is not None:
        shutil.copyfile(gradebook, dest / "gradebook.db")
        os.chmod(dest / "gradebook.db", 0o600)
    return dest


def private_course(source: Course, assignment: str, root: Path) -> Course:
    """A private course at ``root`` with ``source``'s config, the assignment's definition (into a new
    SQLite gradebook), its release and its source data files (notebooks left out)."""
    root.mkdir(parents=True)
    build(root, origin=source.root, assignment=assignment, release=True, source="files")
    db = root / "gradebook.db"
    url = f"sqlite:///{db}"
    definitions.seed(url, source.course_id, definitions.read(source.db_url, source.course_id, assignment))
    (root / CONFIG_NAME).write_text((root / CONFIG_NAME).read_text()
                                    + f"\nc.CourseDirectory.db_url = {url!r}\n")
    return Course.open(root)
