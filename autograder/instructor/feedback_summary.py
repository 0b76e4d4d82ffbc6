"""The summary at the top of a student's feedback: an nbconvert preprocessor for ``generate_feedback``.

Per exercise (an answer cell and its ``test_<answer>*`` check cells, :mod:`autograder.course.exercise_scores`):
passed, or the first explanation of its first failed check and what to do next; then the total score
and, when grading did not end normally (a timeout, a kernel that died), what happened. It must run
after nbgrader's ``GetGrades`` (which puts each cell's score in its metadata) and before
:class:`~autograder.instructor.hide_checks.HideHiddenChecks` (which removes the outputs it reads).
Everything shown comes from explanations, scores and the grader's status, never a check's source,
and all of it is HTML-escaped (an explanation can carry text a student's code chose).
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool
from nbformat.v4 import new_markdown_cell

from autograder.contracts import results
from autograder.contracts.fields import ContractError
from autograder.course.definition import AssignmentDef, NotebookDef
from autograder.course.exercise_scores import evaluate
from autograder.course.explanations import Failure, failures

__all__ = ["FeedbackSummary", "Line", "summarize", "summary_html"]

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_RESTART = "restart the kernel and run every cell (Kernel → Restart Kernel and Run All Cells), then fix the first error"


@dataclass(frozen=True)
class Line:
    """One exercise in the summary."""

    number: int
    name: str
    passed: bool
    score: float
    max_score: float
    finding: str  # "" when passed
    next_step: str  # "" when passed


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _definition(nb: NotebookNode) -> tuple[AssignmentDef, dict[str, float | None]]:
    grade_cells, solutions, scores = [], [], {}
    for cell in nb.cells:
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        gid = nbg.get("grade_id")
        if not isinstance(gid, str) or not gid:
            continue
        if nbg.get("solution"):
            solutions.append(gid)
        if nbg.get("grade"):
            grade_cells.append({"name": gid, "max_score": _number(nbg.get("points")) or 0.0})
            scores[gid] = _number(nbg.get("score"))
    return AssignmentDef("feedback", None, [NotebookDef("notebook", grade_cells=grade_cells,
                                                        solution_cells=solutions)]), scores


def _next_step(number: int, answer: str, test: str, failure: Failure | None, hidden: bool) -> str:
    if failure is None:
        return f"The check {test} did not run to its end: {_RESTART}."
    if failure.ename == "NotImplementedError":
        return f"Write your answer in the cell {answer} of Exercise {number}: it still raises NotImplementedError."
    if failure.kind == "error":
        return (f"Your code raised {failure.ename} when {test} called it: {_RESTART}, "
                f"and run the public check of Exercise {number} again.")
    if hidden:
        return (f"Your answer passes the public check but not the hidden one, which asks the same of {answer} "
                f"in other cases (other sizes and settings): make sure it uses its arguments rather than fixed "
                f"numbers, and that it meets the requirement above.")
    return f"Rerun the public check of Exercise {number} ({test}) in your notebook and fix what it reports."


def summarize(nb: NotebookNode) -> list[Line]:
    """One :class:`Line` per exercise of ``nb`` (a graded notebook whose cells carry their scores)."""
    definition, scores = _definition(nb)
    found = failures(nb)
    lines = []
    for number, ex in enumerate(evaluate(definition, scores), start=1):
        score = sum(s or 0.0 for s, _ in ex.tests.values())
        total = sum(m for _, m in ex.tests.values())
        if ex.passed:
            lines.append(Line(number, ex.name, True, score, total, "", ""))
            continue
        failed = [t for t, (s, m) in ex.tests.items() if s is None or s < m]
        # the first failed check that explains itself, else the first failed one
        test = next((t for t in failed if t in found), failed[0] if failed else next(iter(ex.tests), ex.name))
        failure = found.get(test)
        finding = failure.first if failure else "no explanation: the check did not finish"
        lines.append(Line(number, ex.name, False, score, total, finding,
                          _next_step(number, ex.name, test, failure, test.endswith("_hidden"))))
    return lines


def _status(resources: dict[str, Any]) -> str:
    """The grader's status line when grading did not end normally ("" otherwise or when unknown)."""
    meta = resources.get("nbgrader") or {}
    student, assignment = meta.get("student"), meta.get("assignment")
    if not all(isinstance(x, str) and _SAFE_ID.match(x) for x in (student, assignment)):
        return ""
    path = Path.cwd() / "autograded" / ".autograder" / assignment / f"{student}.json"
    try:
        result = results.read(path) if path.is_file() else None
    except (ContractError, OSError):
        return ""
    if result is None or result.status == "graded":
        return ""
    return f"Grading status: {result.status}" + (f" ({result.reason})" if result.reason else "") + "."


def summary_html(lines: list[Line], *, score: Any = None, max_score: Any = None, late_penalty: Any = None,
                 status: str = "") -> str:
    """The summary as an HTML block (Bootstrap classes, as nbgrader's feedback page loads Bootstrap)."""
    esc = html.escape
    total = _number(score)
    maximum = _number(max_score)
    if total is None:
        total, maximum = sum(x.score for x in lines), sum(x.max_score for x in lines)
    head = f"Summary: {total:g} of {maximum or 0:g} points"
    passed = sum(x.passed for x in lines)
    parts = [f'<div class="alert alert-info" id="feedback-summary"><h3>{esc(head)}</h3>',
             f"<p>{passed} of {len(lines)} exercises passed.</p>"]
    penalty = _number(late_penalty)
    if penalty:
        parts.append(f"<p>Late submission penalty: −{penalty:g} points (included above).</p>")
    if status:
        parts.append(f"<p><strong>{esc(status)}</strong></p>")
    parts.append('<table class="table table-condensed"><tr><th>Exercise</th><th>Points</th><th>Result</th>'
                 "<th>What to do next</th></tr>")
    for x in lines:
        result = "passed" if x.passed else f"not passed: {esc(x.finding)}"
        parts.append(f"<tr><td>{x.number}. <code>{esc(x.name)}</code></td><td>{x.score:g} / {x.max_score:g}</td>"
                     f"<td>{result}</td><td>{esc(x.next_step)}</td></tr>")
    parts.append("</table><p>Each check is shown below, where it ran in your notebook.</p></div>")
    return "".join(parts)


class FeedbackSummary(Preprocessor):
    """nbgrader/nbconvert preprocessor: a Markdown cell with :func:`summary_html` at the top of the feedback."""

    enabled = Bool(True, help="nbconvert skips a preprocessor that is not enabled").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        """Insert the summary above the first cell."""
        meta = resources.get("nbgrader") or {}
        block = summary_html(summarize(nb), score=meta.get("score"), max_score=meta.get("max_score"),
                             late_penalty=meta.get("late_penalty"), status=_status(resources))
        nb.cells.insert(0, new_markdown_cell(block, metadata={"feedback_summary": True}))
        return nb, resources
