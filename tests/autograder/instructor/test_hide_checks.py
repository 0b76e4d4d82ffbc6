"""The feedback preprocessors on small graded notebooks: hidden checks become name, score and explanation;
everything else stays; the summary says per exercise what passed and what to do next."""
from __future__ import annotations

import copy

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.course import explanations
from autograder.instructor import feedback_summary, hide_checks
from autograder.instructor.feedback import leaked_lines

SECRET = 'expected = reference_square(7)  # the hidden answer'
HIDDEN_SOURCE = ("# Hidden checks for Exercise 1\n### BEGIN HIDDEN TESTS\n"
                 f"{SECRET}\nassert square(7) == expected, 'square(7) is wrong'\n)\n### END HIDDEN TESTS\n")


def _meta(gid: str, *, grade: bool = False, solution: bool = False, points: float = 0,
          score: float | None = None) -> dict:
    nbg = {"grade_id": gid, "grade": grade, "solution": solution, "locked": not solution, "schema_version": 3}
    if grade:
        nbg.update(points=points, score=score)
    return {"nbgrader": nbg}


def _error(ename: str, evalue: str, traceback: list[str]) -> nbformat.NotebookNode:
    return new_output("error", ename=ename, evalue=evalue, traceback=traceback)


def graded(*, public: float, hidden: float, evalue: str = "square(7) is 14, expected 49",
           student_output: str = "ok\n") -> nbformat.NotebookNode:
    """A graded notebook: an answer, its public check and its hidden check, and a later cell of the student's."""
    answer = new_code_cell("def square(x):\n    return x + x", metadata=_meta("square", solution=True))
    public_check = new_code_cell("assert square(2) == 4", metadata=_meta("test_square", grade=True, points=1,
                                                                          score=public))
    hidden_check = new_code_cell(HIDDEN_SOURCE, metadata=_meta("test_square_hidden", grade=True, points=2,
                                                              score=hidden))
    if hidden < 2:
        hidden_check.outputs = [_error("AssertionError", evalue,
                                       ["Traceback", f"----> 3 {SECRET}", "AssertionError: " + evalue])]
    later = new_code_cell("print(leak())", outputs=[new_output("stream", name="stdout", text=student_output)])
    return new_notebook(cells=[new_markdown_cell("# Squares"), answer, public_check, hidden_check, later])


def test_hidden_lines_are_the_long_lines_of_hidden_regions_only() -> None:
    secret = explanations.hidden_lines(graded(public=1, hidden=0))
    assert secret == {SECRET, "assert square(7) == expected, 'square(7) is wrong'"}  # not ")" nor the comment above


def test_a_hidden_check_shows_its_name_score_and_explanation_only() -> None:
    nb = graded(public=1, hidden=0)
    before = copy.deepcopy(nb)
    hide_checks.hide(nb)
    cell = nb.cells[3]
    assert SECRET not in cell.source and "BEGIN HIDDEN" not in cell.source
    assert cell.source.startswith("# Hidden check test_square_hidden: 0 of 2 points.")
    assert [o.output_type for o in cell.outputs] == ["stream"]
    assert cell.outputs[0].text == "Not passed:\nsquare(7) is 14, expected 49\n"
    assert cell.metadata.nbgrader.score == 0 and cell.metadata.nbgrader.points == 2
    # the public check, the student's cells and the markdown are as they were
    assert [nb.cells[i] for i in (0, 1, 2, 4)] == [before.cells[i] for i in (0, 1, 2, 4)]


def test_a_passed_hidden_check_says_passed() -> None:
    nb = hide_checks.hide(graded(public=1, hidden=2))
    assert nb.cells[3].outputs[0].text == "Passed.\n"


def test_an_output_or_explanation_quoting_the_hidden_check_is_removed() -> None:
    """A student's function can read its caller's source and print or raise it."""
    nb = graded(public=1, hidden=0, evalue=f"caller was:\n{SECRET}", student_output=f"stolen: {SECRET}\n")
    hide_checks.hide(nb)
    page = nbformat.writes(nb)
    assert SECRET not in page
    assert hide_checks.REMOVED in nb.cells[4].outputs[0].text
    assert "caller was:" in nb.cells[3].outputs[0].text


def test_the_summary_says_what_passed_and_what_to_do_next() -> None:
    nb = graded(public=1, hidden=0, evalue="square(7) is 14, expected 49 <script>")
    lines = feedback_summary.summarize(nb)
    assert [(x.name, x.passed, x.score, x.max_score) for x in lines] == [("square", False, 1.0, 3.0)]
    assert lines[0].finding == "square(7) is 14, expected 49 <script>"
    assert "passes the public check but not the hidden one" in lines[0].next_step
    block = feedback_summary.summary_html(lines, score=1, max_score=3, late_penalty=0)
    assert "<script>" not in block and "&lt;script&gt;" in block and "Summary: 1 of 3 points" in block


def test_the_summary_points_at_the_public_check_or_the_missing_answer() -> None:
    nb = graded(public=0, hidden=0)
    nb.cells[2].outputs = [_error("AssertionError", "square(2) is 4? no: 5", ["tb"])]
    assert "Rerun the public check of Exercise 1 (test_square)" in feedback_summary.summarize(nb)[0].next_step
    nb.cells[2].outputs = [_error("NotImplementedError", "", ["tb"])]
    assert "still raises NotImplementedError" in feedback_summary.summarize(nb)[0].next_step
    ok = feedback_summary.summarize(graded(public=1, hidden=2))
    assert ok[0].passed and ok[0].next_step == ""


def test_the_preprocessors_keep_nbconverts_order_and_no_page_quotes_the_check() -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    for pp in (feedback_summary.FeedbackSummary, hide_checks.HideHiddenChecks):
        exporter.register_preprocessor(pp)
    nb = graded(public=1, hidden=0)
    secret = explanations.hidden_lines(nb)
    page, _ = exporter.from_notebook_node(nb, resources={"nbgrader": {"score": 1, "max_score": 3}})
    assert leaked_lines(page, secret) == []
    assert page.index("feedback-summary") < page.index("Hidden check test_square_hidden")
    plain, _ = HTMLExporter().from_notebook_node(graded(public=1, hidden=0))
    assert leaked_lines(plain, secret) == sorted(secret)  # without the filter the check finds the quotes
