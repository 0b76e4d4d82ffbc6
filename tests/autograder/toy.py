"""A tiny pure-Python nbgrader assignment (``toy``) and helpers to fake student submissions."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import nbformat

from autograder.course import new_gradebook

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ASSIGNMENT = "toy"
NOTEBOOK = "toy.ipynb"
COURSE_ID = "toy-course"
SECRET = "SECRET-HIDDEN-MARKER-7f3a"
MAX = {"test_square": 2.0, "test_add": 3.0, "test_add_2": 1.0}
CORRECT = {"square": "def square(x):\n    return x * x", "add": "def add(a, b):\n    return a + b"}

CONFIG = f"""c = get_config()  # noqa: F821
import os
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "{COURSE_ID}"
c.ExecutePreprocessor.timeout = 30
c.LimitOutput.max_lines = 50
"""


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    nbg = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        nbg["points"] = points
    return {"nbgrader": nbg}


def source_notebook(prefix: str = "") -> nbformat.NotebookNode:
    """The instructor's notebook: two answers, three test cells (one with hidden tests)."""
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("# Toy assignment\nWrite `square` and `add`."),
        v4.new_code_cell(f"### BEGIN SOLUTION\n{CORRECT['square']}\n### END SOLUTION", metadata=_meta(prefix + "square", solution=True)),
        v4.new_code_cell("assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4  # " + SECRET + "\n### END HIDDEN TESTS",
                         metadata=_meta(prefix + "test_square", grade=True, locked=True, points=2)),
        v4.new_code_cell(f"### BEGIN SOLUTION\n{CORRECT['add']}\n### END SOLUTION", metadata=_meta(prefix + "add", solution=True)),
        v4.new_code_cell("assert add(1, 2) == 3", metadata=_meta(prefix + "test_add", grade=True, locked=True, points=3)),
        v4.new_code_cell("assert add(-1, 1) == 0", metadata=_meta(prefix + "test_add_2", grade=True, locked=True, points=1)),
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def env() -> dict[str, str]:
    """Environment for nbgrader commands (the venv first on PATH, for alembic)."""
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


def nbgrader(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course root; fail loudly."""
    proc = subprocess.run([str(VENV_BIN / "nbgrader"), *args], cwd=root, env=env(), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def make_course(root: Path) -> Path:
    """A course with the toy assignment released (gradebook.db filled by generate_assignment)."""
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / NOTEBOOK)
    new_gradebook.create(f"sqlite:///{root / 'gradebook.db'}", COURSE_ID)  # saves nbgrader's `alembic heads` run
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    return root


def released(root: Path) -> nbformat.NotebookNode:
    """The student version of the toy notebook."""
    return nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)


def submit(root: Path, student: str, answers: dict[str, str] | None = None, *,
           edit: Callable[[nbformat.NotebookNode], None] | None = None,
           raw: bytes | None = None, name: str = NOTEBOOK, timestamp: str | None = None) -> Path:
    """Write ``submitted/<student>/toy/<name>``: the release with ``answers`` (grade_id -> code)."""
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if timestamp:
        (folder / "timestamp.txt").write_text(timestamp)
    if raw is not None:
        path.write_bytes(raw)
        return path
    nb = released(root)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if answers and gid in answers:
            cell.source = answers[gid]
    if edit:
        edit(nb)
    nbformat.write(nb, path)
    return path


#: A two-notebook assignment with data files (a file and a folder), for what happens in a box between notebooks.
TWO = "toy2"
TWO_NOTEBOOKS = ("one", "two")
TWO_FILES = {"data.txt": "DATA-7c1e\n", "files/x.txt": "X-FILE-4b2d\n"}
TWO_MAX = {f"test_{nb}": 1.0 for nb in TWO_NOTEBOOKS}


def two_notebook_source(name: str) -> nbformat.NotebookNode:
    """Notebook ``name`` of ``toy2``: one answer cell (``<name>``) and a test cell that also reads the data files."""
    v4 = nbformat.v4
    checks = "\n".join(f"assert open({rel!r}).read() == {text!r}" for rel, text in TWO_FILES.items())
    cells = [
        v4.new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", metadata=_meta(name, solution=True)),
        v4.new_code_cell(f"{checks}\nassert answer == 42", metadata=_meta(f"test_{name}", grade=True, locked=True, points=1)),
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def add_two_notebook_assignment(root: Path) -> Path:
    """Add and release ``toy2`` (notebooks ``one`` and ``two``, data files :data:`TWO_FILES`) in a toy course."""
    folder = root / "source" / TWO
    for rel, text in TWO_FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    for name in TWO_NOTEBOOKS:
        nbformat.write(two_notebook_source(name), folder / f"{name}.ipynb")
    nbgrader(root, "generate_assignment", TWO, "--force")
    return root


def submit_two(root: Path, student: str, answers: dict[str, str] | None = None, last_cell: str = "") -> Path:
    """Write ``submitted/<student>/toy2/``: both notebooks, the answer cells replaced by ``answers`` (notebook ->
    code), each ending with a student's own (ungraded) cell ``last_cell`` when given."""
    folder = root / "submitted" / student / TWO
    folder.mkdir(parents=True, exist_ok=True)
    for name in TWO_NOTEBOOKS:
        nb = nbformat.read(root / "release" / TWO / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == name and answers and name in answers:
                cell.source = answers[name]
        if last_cell:
            nb.cells.append(nbformat.v4.new_code_cell(last_cell))
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder
