"""Learning-platform entry points of the grading image: Gradescope and Coursera.

Both grade one uploaded submission against the course baked into the image (``$AUTOGRADER_COURSE``:
the config, the assignments' definitions with their hidden tests, the released notebooks and
the data) with the same :func:`autograder.host.grade.run` as everywhere else, in a private temporary
course, and translate the result into the platform's file:

- Gradescope: reads ``/autograder/submission/``, writes ``/autograder/results/results.json``
  (``score``, ``output``, ``stdout_visibility`` and one entry per graded check cell in ``tests``);
- Coursera (custom grader): reads ``/shared/submission/``, writes ``/shared/feedback.json``
  (``fractionalScore`` between 0 and 1 and ``feedback`` as HTML).

Whatever the upload is (nothing, the wrong file, a broken notebook), a valid results file is
written with a zero score and a sentence saying what to upload.
"""
from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.contracts import results
from autograder.course import explanations
from autograder.course.definition import AssignmentDef
from autograder.course.directory import Course, baked_course_dir, regular_files
from autograder.course.exercise_scores import evaluate
from autograder.course.identify import course_signatures, recognise
from autograder.errors import UserError
from autograder.host import scratch_grade, store

STUDENT = "submission"


@dataclass
class Outcome:
    """One graded upload: the result, the assignment and the per-cell feedback lines."""

    result: results.Result
    definition: AssignmentDef
    messages: dict[str, str]  # grade_id -> what went wrong (only the cells that failed)
    notes: list[str]

    @property
    def max_score(self) -> float:
        """Points of the automatically graded cells."""
        return sum(g.max_score for nb in self.result.notebooks.values() for g in nb.grades.values()
                   if g.auto_score is not None)


def grade_upload(*, submission: Path, assignment: str | None = None, course: Path | None = None,
                 timeout: float | None = None) -> Outcome:
    """Grade the notebook(s) in ``submission`` against the baked course; never raises for the upload's content.

    The assignment and each notebook's released name are recognised from the notebooks' content
    (:func:`autograder.course.identify.recognise`, the rule ``check`` uses), whatever the files are called.
    """
    source = Course.open(course or baked_course_dir())
    uploaded = sorted(p for p in regular_files(submission) if p.suffix == ".ipynb") if submission.is_dir() else []
    name, stems = recognise(uploaded, course_signatures(source), assignment or os.environ.get("AUTOGRADER_ASSIGNMENT"))
    notes = [f"The uploaded {path.name} was graded as {stem}.ipynb." for path, stem in stems.items()
             if path.name != f"{stem}.ipynb"]
    files = {f"{stem}.ipynb": path for path, stem in stems.items()}
    with scratch_grade.graded(origin=source, assignment=name, submissions={STUDENT: files}, timeout=timeout) as done:
        return graded_outcome(done.course, done.definition, STUDENT, notes)


def graded_outcome(course: Course, definition: AssignmentDef, student: str, notes: list[str] | None = None) -> Outcome:
    """The :class:`Outcome` of ``student``'s graded submission in ``course`` (ledger and graded notebooks)."""
    result = store.load_ledger(course, definition.name)[student]
    return Outcome(result, definition, _messages(course.autograded_dir(student, definition.name), definition),
                   list(notes or []))


def _messages(graded: Path, definition: AssignmentDef) -> dict[str, str]:
    """grade_id -> why a check cell failed ("" when it ran cleanly).

    The explanation lines of :func:`autograder.course.explanations.failures` only (an error's name and
    message, never its traceback, and no line that quotes a hidden check): what a student reads on the
    platform follows the same rule as the feedback pages.
    """
    found, _ = explanations.read_failures(graded, [nb.name for nb in definition.notebooks])
    return {gid: failure.text()[:2000] for cells in found.values() for gid, failure in cells.items()}


def _tests(outcome: Outcome) -> list[dict[str, Any]]:
    """One Gradescope test per automatically graded cell, grouped by exercise."""
    scores = {cell: g.auto_score for nb in outcome.result.notebooks.values() for cell, g in nb.grades.items()}
    maxima = {cell: m for nb in outcome.definition.max_scores().values() for cell, m in nb.items()}
    tests = []
    for number, ex in enumerate(evaluate(outcome.definition, scores), start=1):
        for part, cell in enumerate(ex.tests, start=1):
            score = scores.get(cell)
            if score is None:
                continue  # graded by hand
            hidden = cell.endswith("_hidden")
            # a hidden check shows its name, score and explanation: never its code
            message = outcome.messages.get(cell, "")
            tests.append({
                "name": f"Exercise {number}: {ex.name} ({'hidden' if hidden else 'public'} check {cell})",
                "number": f"{number}.{part}",
                "score": score, "max_score": maxima[cell],
                "output": message or ("Passed." if score >= maxima[cell] else
                                      "Not passed: the check gave no explanation (did the notebook stop before it?)."),
                # hidden checks show once the instructor publishes the grades
                "visibility": "after_published" if hidden else "visible",
            })
    return tests


def _summary(outcome: Outcome) -> str:
    r = outcome.result
    lines = [f"Autograder status: {r.status}" + (f" ({r.reason})" if r.reason else "") + ".", *outcome.notes]
    manual = [c["name"] for nb in outcome.definition.notebooks for c in nb.task_cells + nb.grade_cells
              if any(g.auto_score is None and cell == c["name"]
                     for res in r.notebooks.values() for cell, g in res.grades.items())]
    if manual:
        lines.append(f"Graded by hand later: {', '.join(manual)}.")
    return "\n".join(lines)


def gradescope_results(outcome: Outcome, seconds: float) -> dict[str, Any]:
    """The Gradescope ``results.json`` document of one graded upload."""
    return {"score": outcome.result.score, "execution_time": round(seconds, 1), "output": _summary(outcome),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": _tests(outcome)}


def coursera_feedback(outcome: Outcome) -> dict[str, Any]:
    """Coursera's ``feedback.json``: ``fractionalScore`` in [0, 1] and HTML ``feedback``."""
    total = outcome.max_score
    fraction = min(1.0, max(0.0, outcome.result.score / total)) if total else 0.0
    rows = "".join(f"<li>{html.escape(t['name'])}: {t['score']:g}/{t['max_score']:g}"
                   + (f" — {html.escape(t['output'])}" if t["score"] < t["max_score"] else "") + "</li>"
                   for t in _tests(outcome))
    body = f"<p>{html.escape(_summary(outcome)).replace(chr(10), '<br>')}</p><ul>{rows}</ul>"
    return {"fractionalScore": round(fraction, 4), "feedback": body}


def _failure(reason: str) -> Outcome:
    empty = AssignmentDef("unknown", None, [])
    res = results.Result(assignment="unknown", student=STUDENT, status="no_notebook", reason=reason)
    return Outcome(res, empty, {}, [])


def _grade_or_explain(submission: Path, assignment: str | None, timeout: float | None) -> Outcome:
    try:
        return grade_upload(submission=submission, assignment=assignment, timeout=timeout)
    except UserError as exc:
        return _failure(str(exc))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def run_gradescope(*, submission: Path = Path("/autograder/submission"),
                   results_dir: Path = Path("/autograder/results"), assignment: str | None = None,
                   timeout: float | None = None) -> dict[str, Any]:
    """Grade Gradescope's upload folder and write ``results.json`` there; return the document."""
    t0 = time.monotonic()
    outcome = _grade_or_explain(submission, assignment, timeout)
    doc = gradescope_results(outcome, time.monotonic() - t0)
    _write_json(results_dir / "results.json", doc)
    return doc


def run_coursera(*, submission: Path = Path("/shared/submission"), feedback: Path = Path("/shared/feedback.json"),
                 assignment: str | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Grade Coursera's submission folder and write ``feedback.json``; return the document."""
    outcome = _grade_or_explain(submission, assignment, timeout)
    doc = coursera_feedback(outcome)
    _write_json(feedback, doc)
    return doc
