"""Grading runs on the toy course: a hostile corpus in one run, parity with nbgrader, kill and resume."""
from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import toy
from nbgrader.api import Gradebook

from autograder.course.directory import Course
from autograder.host import grade
from autograder.sandbox import limits as sandbox
from corpus import SNOOP_ENV, SNOOP_SECRET, listener, corpus as _corpus, outputs as _outputs, tree_hash as _tree_hash  # noqa: E402


@pytest.mark.slow
def test_hostile_corpus_in_one_run(course: Path, small_limits: sandbox.Limits, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SNOOP_ENV, SNOOP_SECRET)  # a secret of the instructor's, which no kernel may find
    with listener() as (port, connections):
        expected = _corpus(course, port)
        protected = {p: _tree_hash(course / p) for p in ("source", "submitted", "release")}
        config = (course / "nbgrader_config.py").read_bytes()
        t0 = time.monotonic()
        rows = grade.run(course=Course.open(course), assignment="toy", jobs=2, limits=small_limits, progress=False)
        elapsed = time.monotonic() - t0
    got = {r["student_id"]: (r["status"], float(r["score"])) for r in rows}
    assert got == expected, f"{got}\n{[(r['student_id'], r['reason']) for r in rows]}"
    assert elapsed < len(expected) * (small_limits.submission_timeout + 30)  # bounded by the limits (the scheduler's)
    # reasons for everything not graded normally
    for r in rows:
        assert (r["status"] == "graded") == (r["reason"] == ""), r
    # the CSV matches, and the gradebook holds exactly these grades
    with (course / "grades.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["student_id", "status", "score", "max_score", "test_square", "test_add", "test_add_2", "reason"]
    assert {r["student_id"]: (r["status"], float(r["score"])) for r in table} == expected
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "toy-course") as gb:
        assert sorted(s.id for s in gb.students) == sorted(expected)
        for student, (_, score) in expected.items():
            sub = gb.find_submission("toy", student)
            grades = [g for nb in sub.notebooks for g in nb.grades]
            assert len(grades) == 3 and sub.score == score and all(g.auto_score is not None for g in grades)
    assert (course / "grades.png").stat().st_size > 1000
    # hostile cases achieved nothing
    assert connections == []
    assert {p: _tree_hash(course / p) for p in protected} == protected
    assert (course / "nbgrader_config.py").read_bytes() == config
    assert "WROTE" not in _outputs(course, "gradebook_writer")
    reader = _outputs(course, "reader")
    assert "LEAKS 0" in reader and toy.SECRET not in reader, reader
    assert "CONNECTED" not in _outputs(course, "network")
    snooped = _outputs(course, "snooper")
    assert "LEAK" not in snooped and "MEMORY clean True" in snooped and "FDS []" in snooped, snooped
    forked = int(_outputs(course, "forker").split("FORKED")[1].split()[0])
    assert 0 < forked < small_limits.nproc
    assert "Output truncated" in _outputs(course, "huge_output")
    # no sandbox process outlives the run, no scratch left in /tmp
    left = [p.pid for p in psutil.process_iter(["uids"])
            if p.info["uids"] and small_limits.uid_base <= p.info["uids"].real < small_limits.uid_base + 64]
    assert left == []
    # a failed submission's feedback notebook states the reason
    banner = nbformat.read(course / "autograded" / "bad_json" / "toy" / "toy.ipynb", as_version=4).cells[0].source
    assert "invalid_notebook" in banner and "not valid JSON" in banner


def _scores(db: Path) -> dict[str, dict[str, tuple]]:
    with Gradebook(f"sqlite:///{db}", "toy-course") as gb:
        out = {}
        for sub in gb.find_assignment("toy").submissions:
            nb = sub.notebooks[0]
            out[sub.student.id] = {
                **{g.cell.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades},
                **{c.cell.name: (c.auto_comment,) for c in nb.comments},
                "timestamp": (str(sub.timestamp),),
            }
        return out


@pytest.mark.slow
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "no-warm"])
def test_parity_with_sequential_nbgrader(course: Path, tmp_path: Path, warm: bool) -> None:
    toy.submit(course, "p_full", toy.CORRECT, timestamp="2024-01-01 10:00:00 UTC")
    toy.submit(course, "p_half", {"square": toy.CORRECT["square"], "add": "def add(a, b):\n    return 0"})
    toy.submit(course, "p_blank", None)
    reference = tmp_path / "reference"
    shutil.copytree(course, reference)
    toy.nbgrader(reference, "autograde", "toy")
    grade.run(course=Course.open(course), assignment="toy", jobs=2, progress=False, quiet=True, warm=warm)
    ours, theirs = _scores(course / "gradebook.db"), _scores(reference / "gradebook.db")
    assert ours == theirs and set(ours) == {"p_full", "p_half", "p_blank"}
    for student in ours:
        a = nbformat.read(course / "autograded" / student / "toy" / "toy.ipynb", as_version=4)
        b = nbformat.read(reference / "autograded" / student / "toy" / "toy.ipynb", as_version=4)
        assert [c.source for c in a.cells] == [c.source for c in b.cells]


def _ledger(root: Path) -> dict[str, float]:
    folder = root / "autograded" / ".autograder" / "toy"
    return {p.stem: p.stat().st_mtime for p in folder.glob("*.json")} if folder.is_dir() else {}


def _cgroups_of(pid: int) -> list[Path]:
    """The per-submission cgroups a grading run with this pid made (v1 or v2), wherever the sandbox puts them."""
    return [d for parent in sandbox.cgroup_parents() for d in parent.glob(f"{pid}-*")]


@pytest.mark.slow
def test_kill_and_resume(course: Path) -> None:
    students = [f"r{i}" for i in range(6)]
    for s in students:
        toy.submit(course, s, {"square": "import time\ntime.sleep(2)\n" + toy.CORRECT["square"], "add": toy.CORRECT["add"]})
    cmd = [sys.executable, "-m", "autograder", "--root", str(course), "grade", "toy", "--jobs", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, env=toy.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    # kill it midway, while a kernel runs (each sleeps 2 s): as root that kernel's cgroup exists at the kill
    while ((len(_ledger(course)) < 2 or (sandbox.is_root() and not _cgroups_of(proc.pid)))
           and time.monotonic() < deadline and proc.poll() is None):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # the killed run leaves the cgroups of the kernels it had running (as root: the sandbox makes one each)
    left = _cgroups_of(proc.pid)
    assert left or not sandbox.is_root(), f"no cgroup of run {proc.pid} under {sandbox.cgroup_parents()}"
    before = _ledger(course)
    assert 2 <= len(before) < len(students), "the run was not stopped midway"
    time.sleep(1)
    rerun = subprocess.run(cmd, env=toy.env(), capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    after = _ledger(course)
    assert set(after) == set(students)
    assert all(after[s] == before[s] for s in before), "finished submissions were graded again"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "toy-course") as gb:
        subs = gb.find_assignment("toy").submissions
        assert sorted(s.student.id for s in subs) == students
        assert all(len(s.notebooks) == 1 and len(s.notebooks[0].grades) == 3 and s.score == 6 for s in subs)
        total_grades = gb.db.execute(__import__("sqlalchemy").text("select count(*) from grade")).scalar()
        assert total_grades == 3 * len(students)
    # a third run grades nothing, --force regrades one
    again = subprocess.run(cmd + ["--student", "r0"], env=toy.env(), capture_output=True, text=True, timeout=900)
    assert "0 graded now" in again.stdout
    forced = subprocess.run(cmd + ["--student", "r0", "--force"], env=toy.env(), capture_output=True, text=True, timeout=900)
    assert "1 graded now" in forced.stdout and _ledger(course)["r0"] > after["r0"]
    assert _cgroups_of(proc.pid) == [], "the next run removes the cgroups a killed run left"
