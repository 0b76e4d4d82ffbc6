"""``make demo``: regenerate the release, grade six example submissions, print their grades and feedback."""
from __future__ import annotations

from pathlib import Path

from autograder import examples, release

__all__ = ["run"]

ASSIGNMENT = "unet"
EXERCISES = ("conv_block", "upsampling_block", "unet_model")


def _exercise_marks(row: dict[str, object]) -> list[str]:
    """'ok' or 'x' per exercise: an exercise passes when every one of its test cells has full marks."""
    full = examples.UNET_EXAMPLES[0].expected  # the correct solution has full marks on every test cell
    marks = []
    for exercise in EXERCISES:
        cells = [c for c in full if c == f"test_{exercise}" or c.startswith(f"test_{exercise}_")]
        marks.append("ok" if all(float(row.get(c) or 0) >= full[c] for c in cells) else "x")
    return marks


def run(*, root: Path) -> int:
    """Run the demo in the course at ``root``; return the process exit code."""
    from autograder import feedback, grade  # the grading stage; imported late to keep `--help` fast

    print("1/4  Regenerating release/ from source/ ...")
    for folder in release.run(root=root):
        print(f"     {folder.relative_to(root)}")
    print("2/4  Writing example submissions ...")
    for path in examples.write_examples(root=root, assignment=ASSIGNMENT):
        print(f"     {path.relative_to(root)}")
    print("3/4  Grading them (a short training run per notebook) ...")
    rows = {row["student_id"]: row for row in grade.run(root=root, assignment=ASSIGNMENT, force=True)}
    print("4/4  Writing feedback ...")
    feedback.run(root=root, assignment=ASSIGNMENT)

    header = f"{'student':<26}{'status':<10}{'score':>8}   " + "  ".join(f"{e:<16}" for e in EXERCISES) + "as expected"
    print("\n" + header + "\n" + "-" * len(header))
    all_expected = True
    for example in examples.UNET_EXAMPLES:
        row = rows.get(example.student, {"status": "missing", "score": 0, "max_score": 0})
        marks = _exercise_marks(row)
        same = row.get("status") == "graded" and all(
            abs(float(row.get(cell) or 0) - points) < 1e-6 for cell, points in example.expected.items())
        all_expected &= same
        score = f"{float(row.get('score') or 0):g}/{float(row.get('max_score') or 0):g}"
        print(f"{example.student:<26}{row['status']!s:<10}{score:>8}   " + "  ".join(f"{m:<16}" for m in marks)
              + ("yes" if same else "NO"))
    print("\nWhat each student did:")
    for example in examples.UNET_EXAMPLES:
        print(f"  {example.student:<26}{example.description}")
    print(f"\nGrades:    {root / 'grades.csv'}")
    print(f"Feedback:  {root / 'feedback'}/<student>/{ASSIGNMENT}/Image_segmentation_Unet.html")
    if not all_expected:
        print("Error: some example submissions did not get their expected scores (see the table above).")
        return 1
    return 0
