"""Fast tests without kernels: result format, triage, exercises, CLI basics."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import toy

from autograder.course import definition
from autograder.contracts import results
from autograder.contracts.fields import ContractError
from autograder.run import triage
from autograder.course.exercise_scores import evaluate
from autograder.contracts.results import CellGrade, NotebookResult, Result


def _result() -> Result:
    return Result(assignment="toy", student="s1", status="graded", fingerprint="abc",
                  notebooks={"toy": NotebookResult(grades={"test_square": CellGrade(2.0, 2.0)},
                                                   comments={"square": None}, late_penalty=None)})


def test_result_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    results.write(path, _result())
    assert results.read(path) == _result()
    assert json.loads(path.read_text())["format"] == results.FORMAT


@pytest.mark.parametrize("patch, message", [
    ({"status": "hacked"}, "unknown status"),
    ({"version": 99}, "unsupported"),
    ({"notebooks": {"toy": {"grades": {"test_square": {"auto_score": 5, "max_score": 2}}}}}, "outside"),
    ({"notebooks": {"toy": {"grades": {"test_square": {"auto_score": "2", "max_score": 2}}}}}, "finite number"),
])
def test_result_rejects_malformed(patch: dict, message: str) -> None:
    data = {**_result().to_json(), **patch}
    with pytest.raises(ContractError, match=message):
        results.from_json(data)


def test_definition_and_triage(course: Path) -> None:
    d = definition.read(f"sqlite:///{course / 'gradebook.db'}", "toy-course", "toy")
    assert d.max_scores() == {"toy": toy.MAX}
    nbdef = d.notebooks[0]
    released = triage.baseline(course / "release" / "toy" / "toy.ipynb")
    good = toy.submit(course, "good", toy.CORRECT)
    assert triage.check_notebook(good, nbdef, 2**20, released) == triage.Verdict()
    cases = {
        "empty": (b"", "invalid_notebook"),
        "json": (b"{not json", "invalid_notebook"),
        "list": (b"[1, 2]", "invalid_notebook"),
    }
    for student, (raw, status) in cases.items():
        assert triage.check_notebook(toy.submit(course, student, raw=raw), nbdef, 2**20, released).status == status
    other = nbformat.writes(toy.source_notebook(prefix="other_")).encode()
    assert triage.check_notebook(toy.submit(course, "other", raw=other), nbdef, 2**20, released).status == "wrong_assignment"
    missing = course / "submitted" / "nobody" / "toy" / "toy.ipynb"
    toy.submit(course, "nobody", toy.CORRECT, name="Toy (1).ipynb")
    v = triage.check_notebook(missing, nbdef, 2**20, released)
    assert v.status == "no_notebook" and "Toy (1).ipynb" in v.reason
    big = toy.submit(course, "big", toy.CORRECT)
    assert triage.check_notebook(big, nbdef, 100, released).status == "too_large"

    def drop_and_edit(nb: nbformat.NotebookNode) -> None:
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_add_2"]
        for c in nb.cells:
            if c.metadata.get("nbgrader", {}).get("grade_id") == "test_square":
                c.source = "pass"
    v = triage.check_notebook(toy.submit(course, "edit", toy.CORRECT, edit=drop_and_edit), nbdef, 2**20, released)
    assert (v.status, v.edited, v.deleted) == (None, ["test_square"], ["test_add_2"])


def test_exercises(course: Path) -> None:
    d = definition.read(f"sqlite:///{course / 'gradebook.db'}", "toy-course", "toy")
    ex = {e.name: e for e in evaluate(d, {"test_square": 2.0, "test_add": 3.0, "test_add_2": 0.0})}
    assert ex["square"].passed and not ex["add"].passed
    assert set(ex["add"].tests) == {"test_add", "test_add_2"}


def test_cli_help_and_user_errors(tmp_path: Path) -> None:
    run = lambda *a: subprocess.run([sys.executable, "-m", "autograder", *a], capture_output=True, text=True,  # noqa: E731
                                    env=toy.env(), timeout=600)
    assert run("--help").returncode == 0
    assert "grade" in run("grade", "--help").stdout
    proc = run("--root", str(tmp_path), "grade", "toy")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and " — " in lines[0] and "Traceback" not in proc.stderr
