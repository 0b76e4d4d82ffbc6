"""``python -m autograder slurm``: the array script, bad input, and a real array run on a one-machine cluster
(with one failing task, rerun with the printed command) whose gradebook equals process grading's."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import toy  # noqa: E402

from autograder.course.directory import Course
from autograder import cli  # noqa: E402
from autograder.host import grade  # noqa: E402
from autograder.platforms.slurm import cluster  # noqa: E402

STUDENTS = {  # sorted: shard 0 = ana, cy; shard 1 = bo, dee
    "ana": toy.CORRECT,
    "bo": {"square": "def square(x):\n    return x + x"},
    "cy": {"add": toy.CORRECT["add"]},
    "dee": {**toy.CORRECT, "add": "def add(a, b):\n    return a - b"},
}


def _cli(course: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--root", str(course), *args], cwd=course,
                          env=env or toy.env(), capture_output=True, text=True, timeout=600)


def _submit_all(course: Path) -> None:
    for student, answers in STUDENTS.items():
        toy.submit(course, student, answers)


def _scores(course: Path) -> dict[str, dict[str, float | None]]:
    """Per student, per graded cell: the gradebook's score; plus how many submissions it holds."""
    out: dict[str, dict[str, float | None]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "toy-course") as gb:
        for sub in gb.find_assignment("toy").submissions:
            cells = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            out[sub.student.id] = {**cells, "total": sub.score}
    return out


def test_dry_run_writes_the_array_script_and_its_task_runs_the_shard_command(course: Path) -> None:
    _submit_all(course)
    proc = _cli(course, "slurm", "toy", "--shards", "3", "--dry-run", "--gpus-per-shard", "1", "--mem", "6G",
                "--time", "2:00:00", "--partition", "gpu", "--cpus-per-shard", "2")
    assert proc.returncode == 0, proc.stderr
    path = course / "slurm" / "toy" / "grade.sbatch"
    text = path.read_text()
    assert proc.stdout == text and text.startswith("#!/bin/bash\n")
    sbatch = [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("#SBATCH ")]
    assert {"--array=0-2", "--gres=gpu:1", "--mem=6G", "--time=2:00:00", "--partition=gpu", "--cpus-per-task=2",
            f"--output={course}/slurm/toy/task-%a.log", f"--chdir={course}"} <= set(sbatch)
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    command = next(line for line in text.splitlines() if " -m autograder shard " in line)
    words = [w.replace("$task", "1") for w in shlex.split(command)]
    assert words[0] == sys.executable and Path(words[0]).is_absolute()
    args = cli.parser().parse_args(words[3:])
    assert (args.command, args.assignment, args.index, args.count, args.jobs) == ("shard", "toy", 1, 3, 2)
    assert [args.submitted, args.out, args.course] == [str(course / "submitted"), str(course / "results" / "toy"),
                                                     str(course)]
    assert not (course / "results").exists()  # nothing graded, nothing submitted


def test_bad_input_gets_one_line(course: Path, tmp_path: Path) -> None:
    _submit_all(course)
    no_sbatch = {**toy.env(), "PATH": f"{toy.VENV_BIN}:{tmp_path}"}
    for args, env, words in [
        (("--shards", "2"), no_sbatch, "sbatch not found on PATH — install SLURM's client commands"),
        (("--shards", "2", "--mem", "lots"), None, "--mem 'lots' is not valid"),
        (("--shards", "0"), None, "--shards 0 is not valid"),
        (("--collect",), None, "no SLURM array was submitted for this assignment"),
        ((), None, "--shards is missing"),
    ]:
        proc = _cli(course, "slurm", "toy", *args, env=env)
        assert proc.returncode == 2 and proc.stderr.startswith("Error: ") and words in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    image = _cli(course, "slurm", "toy", "--shards", "2", "--image", "grader.sif", env=no_sbatch)
    if not (shutil.which("apptainer") or shutil.which("singularity")):
        assert "apptainer/singularity not found: grading without the image grader.sif" in image.stderr


@pytest.mark.slurm
def test_unknown_partition_is_one_line_with_the_sinfo_hint(course: Path, slurm_cluster: cluster.Cluster) -> None:
    _submit_all(course)
    proc = _cli(course, "slurm", "toy", "--shards", "2", "--partition", "nosuch", env={**toy.env(), **slurm_cluster.env()})
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("Error: SLURM has no partition 'nosuch'") and "sinfo -s" in proc.stderr


@pytest.mark.slurm
@pytest.mark.slow
def test_array_run_with_a_failed_task_rerun_matches_process_grading(course: Path, tmp_path: Path,
                                                                   slurm_cluster: cluster.Cluster) -> None:
    reference = tmp_path / "reference"
    shutil.copytree(course, reference)
    _submit_all(course)
    _submit_all(reference)
    grade.run(course=Course.open(reference), assignment="toy", jobs=2, progress=False, quiet=True)
    expected = _scores(reference)
    assert len(expected) == 4 and expected["ana"]["total"] == 6 and expected["bo"]["total"] < 6

    env = {**toy.env(), **slurm_cluster.env()}
    # a corrupt results folder: a file where dee's result folder belongs makes array task 1 fail
    blocker = course / "results" / "toy" / "dee"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    first = _cli(course, "slurm", "toy", "--shards", "2", env=env)
    assert first.returncode == 0 and re.search(r"^Submitted batch job [0-9]+$", first.stdout, re.M), first.stderr
    early = _cli(course, "slurm", "toy", "--collect", env=env)  # the array is still queued or running
    assert early.returncode == 2 and "still queued or running" in early.stderr and "--collect --wait" in early.stderr
    waited = _cli(course, "slurm", "toy", "--collect", "--wait", env=env)
    assert waited.returncode == 1, waited.stdout + waited.stderr
    assert re.search(r"^task 1 failed \(exit 1: .*FileExistsError.*\) — rerun: sbatch --array=1 ", waited.stderr, re.M)
    assert "3 results applied, 0 rejected" in waited.stdout  # ana, cy and bo (graded before dee) are kept
    partial = _scores(course)
    assert set(partial) == {"ana", "bo", "cy"} and all(partial[s] == expected[s] for s in partial)

    blocker.unlink()
    rerun = re.search(r"rerun: (sbatch --array=1 \S+)$", waited.stderr, re.M).group(1)
    again = subprocess.run(shlex.split(rerun), env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.startswith("Submitted batch job"), again.stderr
    merged = _cli(course, "slurm", "toy", "--collect", "--wait", env=env)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert _scores(course) == expected
    # merging again (and a shard that runs twice) changes nothing
    twice = _cli(course, "shard", "toy", "--index", "1", "--count", "2", "--submitted", str(course / "submitted"),
                 "--out", str(course / "results" / "toy"), "--course", str(course))
    assert twice.returncode == 0, twice.stderr
    assert _cli(course, "slurm", "toy", "--collect", env=env).returncode == 0
    assert _scores(course) == expected
    with open(course / "grades.csv") as fh, open(reference / "grades.csv") as ref:
        assert sorted(fh.read().splitlines()) == sorted(ref.read().splitlines())
