"""``make demo``: regenerate the release, grade the example submissions, print their grades and feedback."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from autograder.instructor import examples, release

if TYPE_CHECKING:
    from autograder.course.definition import AssignmentDef

__all__ = ["print_table", "run"]


def _table(rows: dict[str, dict], cases: tuple[examples.Example, ...], exercise_names: list[str],
           passed: dict[str, dict[str, bool]]) -> bool:
    """Print one line per example student; return whether every one got exactly its expected scores."""
    width = max(16, *(len(e) + 2 for e in exercise_names))
    header = f"{'student':<26}{'status':<10}{'score':>8}   " + "".join(f"{e:<{width}}" for e in exercise_names)
    print("\n" + header + "as expected\n" + "-" * (len(header) + 11))
    all_expected = True
    for example in cases:
        row = rows.get(example.student, {"status": "missing", "score": 0, "max_score": 0})
        same = row.get("status") == "graded" and all(
            abs(float(row.get(cell) or 0) - points) < 1e-6 for cell, points in example.expected.items())
        all_expected &= same
        marks = "".join(f"{'ok' if passed.get(example.student, {}).get(e) else 'x':<{width}}" for e in exercise_names)
        score = f"{float(row.get('score') or 0):g}/{float(row.get('max_score') or 0):g}"
        print(f"{example.student:<26}{row['status']!s:<10}{score:>8}   {marks}{'yes' if same else 'NO'}")
    return all_expected


def run(*, root: Path, assignment: str = "unet") -> int:
    """Run the demo for ``assignment`` in the course at ``root``; return the process exit code."""
    from autograder.course import definition as definitions
    from autograder.course.directory import Course
    from autograder.instructor import feedback
    from autograder.host import grade  # the grading stages

    found = examples.for_course(root)
    if assignment not in found:
        from autograder.errors import UserError

        raise UserError(f"no assignment {assignment!r} with exercises in {root / 'source'}",
                        "name one of: " + ", ".join(sorted(found)))
    notebook, cases = found[assignment]
    print("1/4  Regenerating release/ from source/ ...")
    # no separate check of the release: the demo grades the solution (demo-correct) and the empty notebook itself
    for folder in release.run(root=root, verify=False):
        print(f"     {folder.relative_to(root)}")
    print("2/4  Writing example submissions ...")
    for path in examples.write_examples(root=root, assignment=assignment):
        print(f"     {path.relative_to(root)}")
    print("3/4  Grading them (a short training run per notebook) ...")
    course = Course.open(root)
    rows = {row["student_id"]: row for row in grade.run(course=course, assignment=assignment, force=True)}
    print("4/4  Writing feedback ...")
    feedback.run(course=course, assignment=assignment)

    all_expected = print_table(definition=definitions.read(course.db_url, course.course_id, assignment), rows=rows,
                               cases=cases)
    print("\nWhat each student did:")
    for example in cases:
        print(f"  {example.student:<26}{example.description}")
    print(f"\nGrades:    {root / 'grades.csv'} (and a histogram in grades.png)")
    print(f"Feedback:  {root / 'feedback'}/<student>/{assignment}/{notebook.replace('.ipynb', '.html')}")
    if not all_expected:
        print("Error: some example submissions did not get their expected scores (see the table above).")
        return 1
    return 0


def print_table(*, definition: AssignmentDef, rows: dict[str, dict],
                cases: tuple[examples.Example, ...] | None = None) -> bool:
    """Print the demo's table for ``rows`` (student -> grades.csv row) of the assignment ``definition``; True
    when every example scored as expected."""
    from autograder.course import exercise_scores

    passed = {}
    for student, row in rows.items():
        scores = {k: (float(v) if v not in ("", None) else None) for k, v in row.items() if k.startswith("test_")}
        passed[student] = {e.name: e.passed for e in exercise_scores.evaluate(definition, scores)}
    names = [e.name for e in exercise_scores.evaluate(definition, {})]
    cases = cases if cases is not None else examples.ASSIGNMENTS[definition.name][1]
    return _table(rows, cases=cases, exercise_names=names, passed=passed)
