"""``feedback``: per-student HTML feedback with nbgrader's generate_feedback, without the hidden checks.

nbgrader converts each autograded notebook with the course's preprocessors; this command names them on
nbgrader's command line as well (so an edited ``nbgrader_config.py`` cannot bring the hidden checks
back): the summary (:mod:`~autograder.instructor.feedback_summary`) and the hiding
(:mod:`~autograder.instructor.hide_checks`). Every page written is then read back and deleted if it
still quotes a line of a hidden check. A student whose graded notebook is missing or unreadable gets
a page saying so, and the others are still written.
"""
from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder.course import definition as definitions
from autograder.course.directory import Course
from autograder.course.explanations import hidden_lines
from autograder.course.nbgrader_app import run_app
from autograder.errors import UserError

__all__ = ["PREPROCESSORS", "leaked_lines", "run"]

#: nbgrader's GenerateFeedback.preprocessors for this course, in order (nbgrader_config.py names the same).
PREPROCESSORS = (
    "nbgrader.preprocessors.GetGrades",
    "autograder.instructor.feedback_summary.FeedbackSummary",
    "autograder.instructor.hide_checks.HideHiddenChecks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
)
_TAG = re.compile(r"<[^>]*>")
_MAX_NOTEBOOK_BYTES = 64 * 2**20


def leaked_lines(page: str, secret: frozenset[str]) -> list[str]:
    """The ``secret`` lines found in an HTML ``page``: in its source, or in its text with tags removed and unescaped."""
    text = html.unescape(_TAG.sub("", page))
    return sorted(line for line in secret if line in page or line in text or html.escape(line) in page)


def _known(course: Course) -> list[str]:
    try:
        with Gradebook(course.db_url, course.course_id) as gb:
            return sorted(a.name for a in gb.assignments)
    except Exception:  # noqa: BLE001 - only to list names in an error message
        return course.assignments()


def _definition(course: Course, assignment: str) -> definitions.AssignmentDef:
    try:
        return definitions.read(course.db_url, course.course_id, assignment)
    except UserError:
        names = _known(course)
        raise UserError(f"assignment {assignment!r} is not in the gradebook of {course.root}",
                        f"use one of: {', '.join(names)}" if names else
                        f"run `python -m autograder release {assignment}` and grade it first") from None


def _problem(path: Path) -> tuple[str, nbformat.NotebookNode | None]:
    """("", notebook) when ``path`` is a readable graded notebook, else (what is wrong with it, None)."""
    if not path.is_file():
        return "is missing", None
    if path.stat().st_size > _MAX_NOTEBOOK_BYTES:
        return f"is larger than {_MAX_NOTEBOOK_BYTES >> 20} MiB", None
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - any failure to read means the same to the student
        return f"cannot be read ({type(exc).__name__})", None
    return "", nb


def _write_notice(target: Path, notebook: str, assignment: str, problem: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    text = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(notebook)}</title></head><body>"
            f"<h3>{html.escape(notebook)} ({html.escape(assignment)})</h3>"
            f"<p>No feedback can be shown yet: your graded notebook {html.escape(problem)}. "
            "Your instructor has been told; your submission itself is kept.</p></body></html>\n")
    target.write_text(text, encoding="utf-8")
    return target


def run(*, course: Course, assignment: str, students: list[str] | None = None) -> list[Path]:
    """Generate ``feedback/<student>/<assignment>/*.html`` for every autograded student; return the files."""
    graded = sorted(p.parent.name for p in (course.root / "autograded").glob(f"*/{assignment}")
                    if p.is_dir() and not p.parent.name.startswith("."))
    if not graded:
        _definition(course, assignment)  # an unknown name is said as such
        raise UserError(f"nothing autograded in {course.root / 'autograded'}/*/{assignment}/",
                        f"run `python -m autograder grade {assignment}` first")
    definition = _definition(course, assignment)
    wanted = students or graded
    for student in wanted:
        if student not in graded:
            raise UserError(f"no autograded/{student}/{assignment}/ in {course.root}",
                            f"run `python -m autograder grade {assignment} --student {student}` first")
    secrets: dict[tuple[str, str], frozenset[str]] = {}
    broken: dict[str, list[tuple[str, str]]] = {}
    for student in wanted:
        for nb in definition.notebooks:
            problem, notebook = _problem(course.autograded_dir(student, assignment) / f"{nb.name}.ipynb")
            if problem:
                broken.setdefault(student, []).append((nb.name, problem))
            else:
                secrets[(student, nb.name)] = hidden_lines(notebook)
    flags = [f"--GenerateFeedback.preprocessors={pp}" for pp in PREPROCESSORS]
    good = [s for s in wanted if s not in broken]
    if students:
        for student in good:
            run_app(course, ["generate_feedback", assignment, "--student", student, "--force", *flags])
    elif good:
        exclude = [f"--CourseDirectory.student_id_exclude={','.join(broken)}"] if broken else []
        run_app(course, ["generate_feedback", assignment, "--force", *flags, *exclude])
    for student, problems in broken.items():
        for name, problem in problems:
            _write_notice(course.root / "feedback" / student / assignment / f"{name}.html", f"{name}.ipynb",
                          assignment, problem)
            print(f"feedback: autograded/{student}/{assignment}/{name}.ipynb {problem}; {student}'s feedback says so "
                  f"— regrade with `python -m autograder grade {assignment} --student {student}`, then rerun "
                  "feedback", file=sys.stderr)
    _verify(course, assignment, secrets)
    return sorted(p for s in wanted for p in (course.root / "feedback" / s / assignment).glob("*.html"))


def _verify(course: Course, assignment: str, secrets: dict[tuple[str, str], frozenset[str]]) -> None:
    """Delete and report any page that still quotes a hidden check (a changed template or preprocessor list)."""
    leaks = []
    for (student, name), secret in secrets.items():
        page = course.root / "feedback" / student / assignment / f"{name}.html"
        if page.is_file() and (found := leaked_lines(page.read_text(encoding="utf-8", errors="replace"), secret)):
            page.unlink()
            leaks.append(f"{page.relative_to(course.root)} ({len(found)} lines)")
    if leaks:
        raise UserError(f"feedback quoting hidden checks was deleted: {', '.join(leaks)}",
                        "restore GenerateFeedback.preprocessors in nbgrader_config.py (see README) and rerun feedback")
