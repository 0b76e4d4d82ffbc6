"""Example submissions of the assignments: the demo grades them and the tests check their scores.

Each example is the *released* notebook with the answer cells filled in from the instructor's solution in
``source/``, optionally changed by a few text edits. The examples are read from the source notebook too: each
exercise's metadata may declare a correct ``alternative`` rewrite and ``mistakes`` students really make
(README, "Write your own exercise"). Every assignment gets ``demo-correct`` (the solution), ``demo-alternative``
(every alternative edit at once, when there are any), one submission per declared mistake (that exercise
scores 0, the others full marks) and ``demo-untouched`` (the released notebook as it is: 0 everywhere). An edit
that no longer matches the solution raises, so an example can never silently turn into a copy of the solution.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import exercise_book

__all__ = ["ASSIGNMENTS", "Example", "UNET_EXAMPLES", "VARIANTS_EXAMPLES", "answer_sources", "build_submission",
           "for_course", "examples_of", "write_examples"]

_SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Example:
    """One made-up student: which answers to fill in, how to break them, and the expected outcome."""

    student: str
    description: str
    # grade_id -> list of (old, new) text replacements applied to the solution of that answer cell
    edits: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # grade_ids left exactly as released (the stub that raises NotImplementedError)
    untouched: tuple[str, ...] = ()
    # grade_id of every test cell -> points expected
    expected: dict[str, float] = field(default_factory=dict)


def _check_points(nb: nbformat.NotebookNode, names: list[str]) -> dict[str, dict[str, float]]:
    """exercise -> its graded check cells -> points (the longest exercise name owns a cell)."""
    out: dict[str, dict[str, float]] = {name: {} for name in names}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id") or ""
        owners = [n for n in names if grade_id.startswith(f"test_{n}")]
        if meta.get("grade") and owners:
            out[max(owners, key=len)][grade_id] = float(meta.get("points") or 0)
    return out


def examples_of(source_notebook: Path) -> tuple[Example, ...]:
    """The examples a source notebook's exercises declare (plus the correct and the untouched submission)."""
    book = exercise_book.read(source_notebook)
    names = [entry.name for entry in book.entries]
    cells = _check_points(nbformat.read(source_notebook, as_version=4), names)

    def points(zero: tuple[str, ...] = ()) -> dict[str, float]:
        return {cell: (0.0 if name in zero else full) for name in names for cell, full in cells[name].items()}

    found = [Example("demo-correct", "the instructor's solution", expected=points())]
    alternative = {e.name: [tuple(p) for p in e.meta.get("examples", {}).get("alternative", [])] for e in book.entries}
    alternative = {name: edits for name, edits in alternative.items() if edits}
    if alternative:
        found.append(Example("demo-alternative", "correct, written differently", edits=alternative, expected=points()))  # type: ignore[arg-type]
    for entry in book.entries:
        for mistake in entry.meta.get("examples", {}).get("mistakes", []):
            found.append(Example(mistake["student"], str(mistake.get("description", "")),
                                 edits={entry.name: [tuple(p) for p in mistake["edits"]]},  # type: ignore[misc]
                                 expected=points((entry.name,))))
    found.append(Example("demo-untouched", "the released notebook, handed in without changes",
                         untouched=tuple(names), expected=points(tuple(names))))
    return tuple(found)


def for_course(root: Path) -> dict[str, tuple[str, tuple[Example, ...]]]:
    """assignment -> (notebook file name, its examples), for every source notebook that declares exercises."""
    out = {}
    for folder in sorted(p for p in (root / "source").glob("*") if p.is_dir() and not p.name.startswith((".", "_"))):
        for path in sorted(folder.glob("*.ipynb")):
            if exercise_book.has_exercises(nbformat.read(path, as_version=4)):
                out[folder.name] = (path.name, examples_of(path))
                break
    return out


#: The kit's own assignments.
ASSIGNMENTS: dict[str, tuple[str, tuple[Example, ...]]] = for_course(ROOT)
UNET_EXAMPLES: tuple[Example, ...] = ASSIGNMENTS["unet"][1]
VARIANTS_EXAMPLES: tuple[Example, ...] = ASSIGNMENTS["unet_variants"][1]


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def answer_sources(source_notebook: Path) -> dict[str, str]:
    """The instructor's answer code of every solution cell, keyed by grade_id, with the markers removed."""
    nb = nbformat.read(source_notebook, as_version=4)
    return {_grade_id(cell): _SOLUTION_MARKERS.sub("", cell.source) for cell in nb.cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}


def build_submission(example: Example, released: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with ``example``'s answers filled in."""
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        if grade_id not in answers or grade_id in example.untouched:
            continue
        code = answers[grade_id]
        for old, new in example.edits.get(grade_id, []):
            if old not in code:
                raise ValueError(f"example {example.student}: {old!r} is not in the solution of {grade_id}; "
                                 "update the exercise's examples in its source notebook")
            code = code.replace(old, new)
        cell.source = code
    return nb


def write_examples(*, root: Path, assignment: str = "unet") -> list[Path]:
    """Write every example of ``assignment`` into ``root/submitted/<student>/<assignment>/``; return the paths."""
    notebook, examples = for_course(root)[assignment] if root != ROOT else ASSIGNMENTS[assignment]
    answers = answer_sources(root / "source" / assignment / notebook)
    released = root / "release" / assignment / notebook
    written = []
    for example in examples:
        target = root / "submitted" / example.student / assignment / notebook
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_submission(example, released, answers), target)
        written.append(target)
    return written
