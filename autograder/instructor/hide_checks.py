"""Feedback without the hidden checks: an nbconvert preprocessor for nbgrader's ``generate_feedback``.

In the copy of a graded notebook that becomes a student's feedback, every hidden check cell keeps
its grade_id and score (nbgrader's template shows both) but its source is replaced by one comment
naming it, and its outputs (tracebacks quote the cell's source) by the explanation of its failure
(:func:`autograder.course.explanations.failures`: the comparator's lines). Public checks and the
student's own cells are left as they are, except an output that quotes a hidden check's code (a
student's function can read its caller's source), which is replaced by a note. The autograded
notebook itself is never changed: instructors still see everything there and in the Formgrader.
"""
from __future__ import annotations

from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool
from nbformat.v4 import new_output

from autograder.course.explanations import Failure, failures, hidden_lines, is_hidden, quotes

__all__ = ["HideHiddenChecks", "hide", "hidden_cell_text"]

#: What a student reads in place of an output that quotes a hidden check.
REMOVED = "(This output was removed from the feedback: it quotes a hidden check.)"


def _points(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def hidden_cell_text(grade_id: str, score: Any, points: Any, failure: Failure | None) -> tuple[str, str, str]:
    """(source, stream name, output text) that stand for a hidden check cell in a student's feedback."""
    source = (f"# Hidden check {grade_id}: {_points(score)} of {_points(points)} points.\n"
              "# Its code is not part of the feedback; what it found is below.")
    if failure is not None:
        return source, "stderr", "Not passed:\n" + "\n".join(failure.lines or (failure.first,)) + "\n"
    if isinstance(score, (int, float)) and isinstance(points, (int, float)) and score >= points:
        return source, "stdout", "Passed.\n"
    return source, "stderr", ("Not passed: this check gave no explanation; the notebook probably stopped before "
                              "it ran (see the summary at the top).\n")


def _quotes_output(output: NotebookNode, secret: frozenset[str]) -> bool:
    texts: list[str] = []
    for key in ("text", "evalue", "ename"):
        value = output.get(key)
        texts.append("".join(value) if isinstance(value, list) else str(value or ""))
    traceback = output.get("traceback")
    if isinstance(traceback, list):
        texts.extend(str(line) for line in traceback)
    data = output.get("data")
    if isinstance(data, dict):
        texts.extend("".join(v) if isinstance(v, list) else str(v) for v in data.values())
    return any(quotes(text, secret) for text in texts)


def hide(nb: NotebookNode) -> NotebookNode:
    """Replace ``nb``'s hidden check cells (in place) as described in the module docstring; return ``nb``."""
    found = failures(nb)
    secret = hidden_lines(nb)
    for cell in nb.cells:
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and is_hidden(cell):
            gid = str(nbg.get("grade_id") or "hidden check")
            source, stream, text = hidden_cell_text(gid, nbg.get("score"), nbg.get("points"), found.get(gid))
            cell.source = source
            cell.outputs = [new_output("stream", name=stream, text=text)]
            cell.execution_count = None
            # only what nbgrader's template reads stays in the metadata
            cell.metadata = NotebookNode({"nbgrader": NotebookNode(
                {k: nbg[k] for k in ("grade", "grade_id", "points", "score", "solution", "locked", "comment")
                 if k in nbg})})
        elif cell.get("cell_type") == "code" and secret:
            cell.outputs = [new_output("stream", name="stderr", text=REMOVED + "\n")
                            if _quotes_output(o, secret) else o for o in cell.get("outputs", [])]
        elif secret and quotes(str(cell.get("source", "")), secret) and cell.get("cell_type") != "code":
            cell.source = REMOVED
    return nb


class HideHiddenChecks(Preprocessor):
    """nbgrader/nbconvert preprocessor: :func:`hide` on the notebook being turned into feedback."""

    enabled = Bool(True, help="nbconvert skips a preprocessor that is not enabled").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        """Return the notebook without its hidden checks' code."""
        return hide(nb), resources
