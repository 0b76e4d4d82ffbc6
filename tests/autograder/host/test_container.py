"""Grading in containers of the image built from the repository's Dockerfile (``make image``).

The toy assignment's hostile corpus gets the same statuses and scores as with process grading,
plus a submission that fills its disk; broken container set-ups become statuses or one-line errors.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import toy
from corpus import SNOOP_ENV, SNOOP_SECRET, corpus, listener, outputs, tree_hash
from nbgrader.api import Gradebook

from autograder.course.directory import Course
from autograder.host import container as containers
from autograder.host import grade
from autograder.sandbox import limits as sandbox
from autograder.errors import UserError

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FILL_DISK = """
import errno
try:
    with open('filler.bin', 'wb') as fh:
        for _ in range(4096):
            fh.write(b'x' * 2**20)
except OSError as exc:
    print('DISK', errno.errorcode.get(exc.errno))
"""


def test_hostile_corpus_in_containers(course: Path, small_limits: sandbox.Limits, docker_client: str,
                                      grading_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SNOOP_ENV, SNOOP_SECRET)
    with listener() as (port, connections):
        expected = corpus(course, port)
        toy.submit(course, "disk_filler", {"square": toy.CORRECT["square"] + FILL_DISK, "add": toy.CORRECT["add"]})
        expected["disk_filler"] = ("disk_full", 6)
        protected = {p: tree_hash(course / p) for p in ("source", "submitted", "release")}
        opts = containers.Options(grading_image, docker=docker_client, disk_mb=64)
        rows = grade.run(course=Course.open(course), assignment="toy", jobs=2, limits=small_limits, progress=False, container=opts)
    got = {r["student_id"]: (r["status"], float(r["score"])) for r in rows}
    assert got == expected, f"{got}\n{[(r['student_id'], r['reason']) for r in rows]}"
    for r in rows:
        assert (r["status"] == "graded") == (r["reason"] == ""), r
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "toy-course") as gb:
        assert sorted(s.id for s in gb.students) == sorted(expected)
    assert connections == []
    assert {p: tree_hash(course / p) for p in protected} == protected
    assert "WROTE" not in outputs(course, "gradebook_writer")
    reader = outputs(course, "reader")
    assert "LEAKS 0" in reader and toy.SECRET not in reader, reader
    assert "CONNECTED" not in outputs(course, "network")
    assert "LEAK" not in outputs(course, "snooper")
    forked = int(outputs(course, "forker").split("FORKED")[1].split()[0])
    assert 0 < forked < small_limits.nproc
    assert "DISK ENOSPC" in outputs(course, "disk_filler")
    # every container is gone (Docker may still be finishing a removal it accepted: a bounded wait)
    deadline = time.monotonic() + 300
    while (left := subprocess.run([docker_client, "ps", "-aq", "--filter", "label=unet-grader=1"],
                                  capture_output=True, text=True, check=True).stdout.split()) and time.monotonic() < deadline:
        time.sleep(1)
    assert left == [], subprocess.run([docker_client, "ps", "-a", "--filter", "label=unet-grader=1"],
                                      capture_output=True, text=True).stdout


def test_container_start_failure_is_a_status(course: Path, docker_client: str, grading_image: str,
                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toy.submit(course, "alice", toy.CORRECT)
    toy.submit(course, "bob", toy.CORRECT)
    # a dataset folder that vanished: docker cannot mount it, so no container starts
    monkeypatch.setattr(containers, "data_dir", lambda: tmp_path / "gone")
    rows = grade.run(course=Course.open(course), assignment="toy", jobs=2, progress=False,
                     container=containers.Options(grading_image, docker=docker_client))
    assert [(r["student_id"], r["status"], r["score"]) for r in rows] == [("alice", "error", "0"), ("bob", "error", "0")]
    assert all("could not create or start the container" in r["reason"] for r in rows), rows


def test_missing_image_is_a_one_line_error(course: Path, docker_client: str) -> None:
    toy.submit(course, "alice", toy.CORRECT)
    with pytest.raises(UserError, match="image unet-grader:no-such-tag not found.*make image"):
        grade.run(course=Course.open(course), assignment="toy", progress=False,
                  container=containers.Options("unet-grader:no-such-tag", docker=docker_client))
    assert not (course / "grades.csv").exists()


def test_gpus_absent_fall_back_to_cpu(docker_client: str, grading_image: str, capsys: pytest.CaptureFixture) -> None:
    if Path("/dev/nvidiactl").exists():
        pytest.skip("this machine has an NVIDIA GPU")
    opts = containers.preflight(containers.Options(grading_image, gpus="all", docker=docker_client))
    assert opts.gpus is None
    assert "grading on CPU" in capsys.readouterr().err
