"""How each exercise scored: an answer cell (grade_id) and its test cells ``test_<grade_id>*``.

(The exercise itself, as the instructor wrote it, is :class:`test_utils.exercises.ExerciseSpec`.)
"""
from __future__ import annotations

from dataclasses import dataclass

from autograder.course.definition import AssignmentDef


@dataclass
class ExerciseScore:
    """One answer and how its tests scored."""

    name: str
    tests: dict[str, tuple[float | None, float]]  # grade_id -> (score, max)

    @property
    def passed(self) -> bool:
        """All its test cells have full marks (an exercise without tests never passes)."""
        return bool(self.tests) and all(s is not None and s >= m for s, m in self.tests.values())


def evaluate(definition: AssignmentDef, scores: dict[str, float | None]) -> list[ExerciseScore]:
    """Group test-cell scores by exercise; ``scores`` is grade_id -> score."""
    maxima = {cell: m for nb in definition.max_scores().values() for cell, m in nb.items()}
    out = []
    for nb in definition.notebooks:
        answers = [c for c in nb.solution_cells if c not in maxima]
        for answer in answers:
            # the longest matching answer name owns a test (test_conv_block_2 vs test_conv)
            tests = {t: (scores.get(t), m) for t, m in maxima.items()
                     if t.startswith(f"test_{answer}")
                     and max((a for a in answers if t.startswith(f"test_{a}")), key=len) == answer}
            out.append(ExerciseScore(answer, tests))
    return out
