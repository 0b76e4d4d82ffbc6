"""``export``: the whole gradebook as CSV, with nbgrader's CsvExportPlugin."""
from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins.export import CsvExportPlugin

from autograder.course.directory import Course


def run(*, root: Path, to: Path | None = None, db_url: str | None = None) -> Path:
    """Write every assignment's per-student grades (nbgrader's export columns); return the file.

    The default is ``gradebook.csv`` in the course root (``grades.csv`` is the autograder's own report).
    """
    course = Course.open(Path(root), db_url)
    target = Path(to) if to else course.root / "gradebook.csv"
    plugin = CsvExportPlugin(to=str(target))
    with Gradebook(course.db_url, course.course_id) as gb:
        plugin.export(gb)
    return target
