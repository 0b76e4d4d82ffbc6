"""``feedback``: per-student HTML feedback with nbgrader's generate_feedback."""
from __future__ import annotations

from pathlib import Path

from autograder.course.directory import Course
from autograder.errors import UserError
from autograder.course.nbgrader_app import run_app


def run(*, root: Path, assignment: str, students: list[str] | None = None, db_url: str | None = None) -> list[Path]:
    """Generate ``feedback/<student>/<assignment>/*.html`` for every autograded student; return the files."""
    course = Course.open(Path(root), db_url)
    graded = sorted(p.parent.name for p in (course.root / "autograded").glob(f"*/{assignment}")
                    if p.is_dir() and not p.parent.name.startswith("."))
    wanted = students or graded
    if not graded:
        raise UserError(f"nothing autograded in {course.root / 'autograded'}/*/{assignment}/",
                        f"run `python -m autograder grade {assignment}` first")
    for student in wanted:
        if student not in graded:
            raise UserError(f"no autograded/{student}/{assignment}/ in {course.root}", f"grade {student} first")
    if students:
        for student in students:
            run_app(course, ["generate_feedback", assignment, "--student", student, "--force"])
    else:
        run_app(course, ["generate_feedback", assignment, "--force"])
    return sorted(p for s in wanted for p in (course.root / "feedback" / s / assignment).glob("*.html"))
