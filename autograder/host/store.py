"""Write one result into the course: the gradebook (one transaction), autograded/, the ledger.

Only the parent process calls this, one submission at a time. The order makes a re-run after
a crash safe: graded notebooks are staged, the gradebook rows are written and committed, the
notebooks are swapped in, and last the ledger entry says the submission is done. A crash
anywhere before the ledger entry means the submission is graded again; the gradebook rows are
updated in place (nbgrader keys them by student, notebook and cell), never duplicated.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from nbgrader import utils as nbutils
from nbgrader.api import Gradebook

from autograder.contracts import results
from autograder.course.directory import Course
from autograder.course.definition import AssignmentDef
from autograder.contracts.fields import ContractError
from autograder.contracts.results import Result


def validate(result: Result, definition: AssignmentDef) -> None:
    """Reject a result naming cells or scores the assignment does not have."""
    maxima = definition.max_scores()
    if result.assignment != definition.name:
        raise ContractError(f"result is for assignment {result.assignment!r}, not {definition.name!r}")
    for nb, res in result.notebooks.items():
        if nb not in maxima:
            raise ContractError(f"unknown notebook {nb!r}")
        for cell, grade in res.grades.items():
            if cell not in maxima[nb]:
                raise ContractError(f"unknown graded cell {nb}/{cell}")
            if grade.auto_score is not None and grade.auto_score > maxima[nb][cell]:
                raise ContractError(f"{nb}/{cell} scores {grade.auto_score} > {maxima[nb][cell]}")


def write_gradebook(gb: Gradebook, result: Result) -> None:
    """Create or update the student's submission and set its automatic grades; commit once."""
    a, s = result.assignment, result.student
    gb.update_or_create_student(s)
    if result.timestamp:
        gb.update_or_create_submission(a, s, timestamp=nbutils.parse_utc(result.timestamp))
    else:
        gb.update_or_create_submission(a, s)
    try:
        for name, res in result.notebooks.items():
            snb = gb.find_submission_notebook(name, a, s)
            snb.late_submission_penalty = res.late_penalty
            for grade in snb.grades:
                cell = res.grades.get(grade.cell.name)
                if cell is None:
                    continue
                grade.auto_score = cell.auto_score
                # the same rule as nbgrader's SaveAutoGrades
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in snb.comments:
                if comment.cell.name in res.comments:
                    comment.auto_comment = res.comments[comment.cell.name]
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise


def place_autograded(src: Path | None, dest: Path) -> None:
    """Replace ``dest`` (autograded/<student>/<assignment>) with the graded files in ``src``.

    ``src`` may come from a container or another machine: it must hold only folders and regular
    files (:func:`autograder.contracts.results.check_graded_dir`); a link or special file is a
    :class:`ContractError` and nothing is replaced. Files are copied without their permission bits.
    """
    if src is not None:
        results.check_graded_dir(src)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f".{dest.name}.new")
    old = dest.with_name(f".{dest.name}.old")
    for d in (staging, old):
        shutil.rmtree(d, ignore_errors=True)
    try:
        if src is not None and src.is_dir():
            _copy_tree(src, staging)
        else:
            staging.mkdir()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)


def _copy_tree(src: Path, dest: Path) -> None:
    """Copy folders and regular files only, never following a link (checked again while copying)."""
    os.mkdir(dest, 0o755)
    with os.scandir(src) as it:
        entries = list(it)
    for entry in entries:
        target = dest / entry.name
        if entry.is_dir(follow_symlinks=False):
            _copy_tree(Path(entry.path), target)
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise ContractError(f"graded file {entry.name!r} cannot be copied ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as fin:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ContractError(f"graded folder holds a special file {entry.name!r}")
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            with os.fdopen(out, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def ledger_path(course: Course, assignment: str, student: str) -> Path:
    """The ledger entry of one submission."""
    return course.state_dir(assignment) / f"{student}.json"


def is_done(course: Course, assignment: str, student: str, current_fingerprint: str) -> bool:
    """Graded before, from the same files, and the graded notebooks are in place."""
    path = ledger_path(course, assignment, student)
    if not path.exists():
        return False
    try:
        entry = results.read(path)
    except (ContractError, OSError):
        return False
    return entry.fingerprint == current_fingerprint and course.autograded_dir(student, assignment).is_dir()


def load_ledger(course: Course, assignment: str) -> dict[str, Result]:
    """All ledger entries of an assignment, by student."""
    out = {}
    folder = course.state_dir(assignment)
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                r = results.read(path)
            except (ContractError, OSError):
                continue
            out[r.student] = r
    return out


def commit(course: Course, gb: Gradebook, definition: AssignmentDef, result: Result, graded_dir: Path | None) -> None:
    """The whole write of one submission, in the crash-safe order described above."""
    validate(result, definition)
    for what, name in (("student", result.student), ("assignment", result.assignment)):
        # whoever built the result, its ids name folders in the course: one plain component each
        if not name or name.startswith(".") or "/" in name or "\0" in name:
            raise ContractError(f"{what} {name!r} cannot name a folder")
    if graded_dir is not None:  # before anything is written: a rejected folder leaves no trace
        results.check_graded_dir(graded_dir)
    write_gradebook(gb, result)
    place_autograded(graded_dir, course.autograded_dir(result.student, result.assignment))
    entry = Result(**{**result.__dict__, "autograded_dir": None})
    results.write(ledger_path(course, result.assignment, result.student), entry)
