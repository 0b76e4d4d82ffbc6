"""Gradescope's results.json and Coursera's feedback.json show a hidden check's name, score and explanation,
never its code nor a traceback (the same rule as the feedback pages). The graded runs of the real assignments
are covered in tests/autograder/instructor/test_feedback.py; here a small graded notebook is enough."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

from autograder.contracts import results
from autograder.course.definition import AssignmentDef, NotebookDef
from autograder.platforms import lms

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "instructor"))
from test_hide_checks import SECRET, graded  # noqa: E402


def _outcome(tmp_path: Path, nb: nbformat.NotebookNode) -> lms.Outcome:
    folder = tmp_path / "graded"
    folder.mkdir()
    nbformat.write(nb, folder / "squares.ipynb")
    definition = AssignmentDef("squares", None, [NotebookDef(
        "squares", grade_cells=[{"name": "test_square", "max_score": 1.0, "cell_type": "code"},
                                {"name": "test_square_hidden", "max_score": 2.0, "cell_type": "code"}],
        solution_cells=["square"])])
    scores = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.score for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    grades = {gid: results.CellGrade(score, {"test_square": 1.0}.get(gid, 2.0)) for gid, score in scores.items()}
    result = results.Result("squares", lms.STUDENT, "graded", notebooks={"squares": results.NotebookResult(grades)})
    return lms.Outcome(result, definition, lms._messages(folder, definition), [])


def test_hidden_check_shows_name_score_explanation(tmp_path: Path) -> None:
    nb = graded(public=1, hidden=0, evalue=f"square(7) is 14, expected 49\ncaller was:\n{SECRET}")
    outcome = _outcome(tmp_path, nb)
    doc = lms.gradescope_results(outcome, 1.0)
    hidden = next(t for t in doc["tests"] if "test_square_hidden" in t["name"])
    assert (hidden["score"], hidden["max_score"]) == (0, 2.0)
    assert hidden["output"].startswith("square(7) is 14, expected 49")
    assert SECRET not in json.dumps(doc) and "Traceback" not in json.dumps(doc)
    coursera = lms.coursera_feedback(outcome)
    assert SECRET not in coursera["feedback"] and "square(7) is 14, expected 49" in coursera["feedback"]


def test_a_passed_hidden_check_says_passed(tmp_path: Path) -> None:
    doc = lms.gradescope_results(_outcome(tmp_path, graded(public=1, hidden=2)), 1.0)
    assert [t["output"] for t in doc["tests"]] == ["Passed.", "Passed."]
