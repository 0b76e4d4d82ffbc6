"""``shard``: grade one share of the submissions and leave per-submission result JSON for ``collect``.

For grading on several machines (a Kubernetes Indexed Job, or plain parallel containers): shard
``index`` of ``count`` takes every ``count``-th student (sorted by id), grades them in a private
course made from the baked one (``$AUTOGRADER_COURSE``) and writes, per student::

    OUT/<student>/result.json      # autograder result format (autograder.contracts.results)
    OUT/<student>/autograded/      # the graded notebooks

A shard that is run again skips students whose result matches their current files, so a
pod that died is simply restarted. ``python -m autograder collect OUT`` merges every shard.
"""
from __future__ import annotations

from pathlib import Path

from autograder.host import scratch_grade, store
from autograder.contracts import results
from autograder.contracts.fields import ContractError
from autograder.course.directory import Course, baked_course_dir, fingerprint
from autograder.errors import UserError


def share(students: list[str], index: int, count: int) -> list[str]:
    """The students of shard ``index`` of ``count`` (every ``count``-th, by sorted id)."""
    if count < 1 or not 0 <= index < count:
        raise UserError(f"shard {index} of {count} does not exist", "use 0 <= --index < --count")
    return [s for i, s in enumerate(sorted(students)) if i % count == index]


def _done(out: Path, submission: Path) -> bool:
    try:
        return results.read(out / "result.json").fingerprint == fingerprint(submission)
    except (OSError, ContractError):
        return False


def run(*, assignment: str, index: int, count: int, submitted: Path, out: Path, course: Path | None = None,
        jobs: int | None = None, timeout: float | None = None, confine: bool = True) -> list[str]:
    """Grade shard ``index`` of ``count`` of ``submitted/*/<assignment>/`` into ``out``; return its students.

    ``confine=False`` (``--no-sandbox``): student code unconfined, said in each result's reason."""
    submitted, out = Path(submitted), Path(out)
    if not submitted.is_dir():
        raise UserError(f"submissions folder {submitted} does not exist", "mount the course volume with submitted/ in it")
    everyone = sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir() and not p.name.startswith("."))
    mine = share(everyone, index, count)
    todo = [s for s in mine if not _done(out / s, submitted / s / assignment)]
    if not todo:
        return mine
    source = Course.open(Path(course) if course else baked_course_dir())
    with scratch_grade.graded(origin=source, assignment=assignment, submissions={s: submitted / s / assignment for s in todo},
                              jobs=jobs, timeout=timeout, confine=confine) as done:
        ledger = store.load_ledger(done.course, assignment)
        for s in todo:
            _export(ledger[s], done.course.autograded_dir(s, assignment), out / s)
    return mine


def _export(result: results.Result, graded: Path, dest: Path) -> None:
    """Write one student's result folder, the JSON last (a reader never sees a half-written result)."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "result.json").unlink(missing_ok=True)
    store.place_autograded(graded, dest / "autograded")
    results.write(dest / "result.json", results.Result(**{**result.__dict__, "autograded_dir": "autograded"}))
