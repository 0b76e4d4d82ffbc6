"""The courses the suite builds once per run and shares: per assignment, the release, and a graded batch.

- ``released(assignment)``: a course with ``source/``, ``release/``, ``references/`` and a gradebook holding the
  assignment, made with the kit's own release (``nbgrader generate_assignment`` inside), the dataset linked.
- ``graded(assignment)``: that course with every example submission the source notebook declares, one that
  kills its kernel in the first answer cell (``crash-kernel``) and, for ``unet``, the cheats of
  :data:`CHEATS`, graded once by the kit's grader (``grade.run``): ``grades.csv``, the ledger, ``autograded/``
  and the gradebook are there to read.

Tests read these folders and never change them: one that writes copies first (:func:`copy`). The fixtures
``released_course`` and ``graded_course`` (``tests/conftest.py``) hand them out.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from autograder.course import scratch
from autograder.course.directory import Course
from autograder.host import grade
from autograder.instructor import examples, release

ROOT = Path(__file__).resolve().parents[1]
CRASHED = "crash-kernel"

# ------------------------------------------------------------------------------------------------ the cheats
#: The cheats hide a wrong ``conv_block`` (the second convolution has no activation) behind code that runs in
#: the student's kernel before the checks; tests/autograder/run/test_cheats.py says what each must get.
WRONG_CONV = ('features = Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(features)',
              'features = Conv2D(n_filters, 3, padding="same", kernel_initializer="he_normal")(features)')

# Rewrites every later cell that checks conv_block into a line that prints success (an IPython input transformer).
SILENCE = '''

def _silence(lines):
    text = "".join(lines)
    if 'check(exercise, conv_block' in text or 'record(_exercise, conv_block' in text:
        return ['print("All tests passed!")\\n']
    return lines


get_ipython().input_transformers_cleanup.append(_silence)
'''

# Silences the seed-format comparison and replaces the structural check by evidence copied from the public
# cell's expected data, labelled with this very grading run's challenge.
FORGE = '''

comparator = lambda *args, **kwargs: None

def _forge(lines):
    text = "".join(lines)
    if "check(exercise, conv_block" in text:
        return [text.replace('check(exercise, conv_block, expected_structure, summaries=expected_summaries)', _FORGED)]
    return lines


_FORGED = """
import os
from IPython.display import display
from test_utils import exercises
_seed = int(os.environ.get("UNET_COURSE_CHALLENGE", "0"))
_cases = exercise["public"] + [exercises.challenge_case(exercise, "public", _seed)]
_descriptions = expected_structure + [expected_structure[0]]
display({"application/vnd.unet-course.evidence+json": {
    "schema": 1, "exercise": "conv_block", "part": "public", "challenge": _seed,
    "signature": [["inputs", "None"], ["n_filters", "32"], ["dropout_prob", "0"], ["max_pooling", "True"]],
    "cases": [{"case": c, "description": d} for c, d in zip(_cases, _descriptions)]}}, raw=True)
print("All tests passed!")
"""
get_ipython().input_transformers_cleanup.append(_forge)
'''

# Makes Keras describe the missing activation as ReLU: descriptions match, the computed outputs do not.
LIE = '''

import keras as _keras

_original_config = _keras.layers.Conv2D.get_config


def _lying_config(self):
    config = _original_config(self)
    config["activation"] = "relu"
    return config


_keras.layers.Conv2D.get_config = _lying_config
'''

#: student -> the code a cheat appends to its (wrong) conv_block answer, in the unet batch.
CHEATS = {"silence": SILENCE, "forge": FORGE, "lie": LIE}


def crashing(released_notebook: Path) -> nbformat.NotebookNode:
    """The released notebook whose first answer cell kills the kernel."""
    nb = nbformat.read(released_notebook, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = "import os\nos._exit(1)  # the kernel dies here"
    return nb


def cheat(student: str, released_notebook: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released unet notebook with the solution, conv_block made wrong and a cheat appended to it."""
    edits = {"conv_block": [WRONG_CONV, ("return next_layer, skip_connection",
                                         "return next_layer, skip_connection\n" + CHEATS[student])]}
    return examples.build_submission(examples.Example(student, student, edits=edits), released_notebook, answers)


# ------------------------------------------------------------------------------------------------ the courses
def build_released(folder: Path, assignment: str) -> Path:
    """A course at ``folder`` with ``assignment`` released by the kit (no verification: test_release checks it)."""
    scratch.build(folder, origin=ROOT, assignment=assignment, source="all", data=True)
    release.run(root=folder, assignments=[assignment], verify=False)
    return folder


def students(assignment: str) -> list[str]:
    """Who is in the graded batch of ``assignment``."""
    _, cases = examples.ASSIGNMENTS[assignment]
    return [e.student for e in cases] + [CRASHED] + (list(CHEATS) if assignment == "unet" else [])


def build_graded(folder: Path, assignment: str, released_folder: Path) -> Path:
    """A copy of the released course with the batch of :func:`students` submitted and graded."""
    copy(released_folder, folder)
    notebook, _ = examples.ASSIGNMENTS[assignment]
    examples.write_examples(root=folder, assignment=assignment)
    released_notebook = folder / "release" / assignment / notebook
    extra = {CRASHED: crashing(released_notebook)}
    if assignment == "unet":
        answers = examples.answer_sources(folder / "source" / assignment / notebook)
        extra |= {student: cheat(student, released_notebook, answers) for student in CHEATS}
    for student, nb in extra.items():
        target = folder / "submitted" / student / assignment / notebook
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    grade.run(course=Course.open(folder), assignment=assignment, jobs=2, progress=False, quiet=True)
    return folder


def copy(course: Path, dest: Path) -> Path:
    """A copy of a shared course that a test may change (the dataset stays a link)."""
    shutil.copytree(course, dest, symlinks=True)
    return dest
