"""The grading image's platform contracts (Gradescope, Coursera), its shards, and the Gradescope zip.

Each contract runs the built image with exactly the platform's folder layout and checks the file
it writes against the platform's schema; the two-shard run must merge into the gradebook a
single machine makes.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Callable

import jsonschema
import pytest
from nbgrader.api import Gradebook

import batches
from autograder.host import collect, container
from autograder.instructor import examples
from autograder.platforms import gradescope_zip
from autograder.sandbox import limits as sandbox
from autograder.course.directory import Course

REPO = Path(__file__).resolve().parents[3]
NOTEBOOK = "Image_segmentation_Unet.ipynb"
EXPECTED = {e.student: sum(e.expected.values()) for e in examples.UNET_EXAMPLES}
#: the students the shards test grades: full marks, two that lose different exercises, nothing
SHARDED = ("demo-correct", "demo-mistake-conv", "demo-mistake-unet", "demo-untouched")

GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["score", "tests", "output", "stdout_visibility"],
    "properties": {
        "score": {"type": "number", "minimum": 0},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "stdout_visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "tests": {"type": "array", "items": {
            "type": "object", "required": ["name", "score", "max_score", "output", "visibility"],
            "properties": {"name": {"type": "string"}, "number": {"type": "string"}, "output": {"type": "string"},
                           "score": {"type": "number", "minimum": 0}, "max_score": {"type": "number", "minimum": 0},
                           "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]}},
            "additionalProperties": False}},
    },
}
COURSERA_SCHEMA = {
    "type": "object", "required": ["fractionalScore", "feedback"],
    "properties": {"fractionalScore": {"type": "number", "minimum": 0, "maximum": 1}, "feedback": {"type": "string"}},
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def unet_course(released_course: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the released unet course with the example submissions in submitted/."""
    root = batches.copy(released_course("unet"), tmp_path_factory.mktemp("unet") / "course")
    examples.write_examples(root=root, assignment="unet")
    return root


def _docker_run(client: str, *args: str) -> list[str]:
    """``docker run`` of the grading image as the LMS tests run it. On Gradescope or Coursera the container has the
    machine to itself; here a grading run on the host (another test) kills what its sandbox uids still run,
    machine-wide, so the container claims its kernel's uid in the host's lock folder."""
    return [client, "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/home/grader",
            "-v", f"{_uid_locks()}:/tmp/unet-grader-uids", *args]


def _run(client: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_docker_run(client, *args), capture_output=True, text=True, timeout=900)


def _uid_locks() -> Path:
    """The host's folder of sandbox uid claims (made when no run has made it yet)."""
    locks = sandbox.uid_lock_folder()
    locks.mkdir(mode=0o755, parents=True, exist_ok=True)
    return locks


def _upload(tmp: Path, course: Path | None, student: str | None) -> Path:
    folder = tmp / "upload"
    folder.mkdir()
    if student and course:
        # Gradescope keeps the student's own file name
        shutil.copyfile(course / "submitted" / student / "unet" / NOTEBOOK, folder / "Image_segmentation_Unet (2).ipynb")
    return folder


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("student", ["demo-mistake-conv", None])
def test_gradescope_contract(unet_course: Path, docker_client: str, grading_image: str, tmp_path: Path,
                             student: str | None) -> None:
    upload = _upload(tmp_path, unet_course, student)
    results = tmp_path / "results"
    results.mkdir(mode=0o777)
    results.chmod(0o777)
    done = _run(docker_client, "-v", f"{upload}:/autograder/submission:ro", "-v", f"{results}:/autograder/results",
                grading_image, "/autograder/run_autograder")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((results / "results.json").read_text())
    jsonschema.validate(doc, GRADESCOPE_SCHEMA)
    if student is None:
        assert doc["score"] == 0 and "Image_segmentation_Unet.ipynb" in doc["output"], doc
        return
    assert doc["score"] == EXPECTED[student] == 20
    assert sum(t["max_score"] for t in doc["tests"]) == 30 and len(doc["tests"]) == 6
    failed = [t for t in doc["tests"] if t["score"] < t["max_score"]]
    assert [t["name"].split(" (")[0] for t in failed] == ["Exercise 1: conv_block"] * 2
    assert "activation" in failed[0]["output"]
    assert {t["visibility"] for t in doc["tests"]} == {"visible", "after_published"}
    assert "graded as Image_segmentation_Unet.ipynb" in doc["output"]


@pytest.mark.docker
@pytest.mark.slow
def test_coursera_contract(unet_course: Path, docker_client: str, grading_image: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "submission").mkdir(parents=True)
    shutil.copyfile(unet_course / "submitted" / "demo-correct" / "unet" / NOTEBOOK, shared / "submission" / NOTEBOOK)
    shared.chmod(0o777)
    done = _run(docker_client, "-v", f"{shared}:/shared", "-e", "partId=unet", grading_image, "/autograder/run_coursera")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((shared / "feedback.json").read_text())
    jsonschema.validate(doc, COURSERA_SCHEMA)
    assert doc["fractionalScore"] == 1.0 and "graded" in doc["feedback"], doc


@pytest.mark.docker
@pytest.mark.slow
def test_two_shards_merge_into_the_single_machine_gradebook(unet_course: Path, docker_client: str,
                                                             grading_image: str, tmp_path: Path,
                                                             graded_course: Callable[[str], Path]) -> None:
    """Four examples graded as two shards in containers, merged with collect, give the gradebook that grading
    them in one run on this machine gave (the shared unet batch, which holds the same examples)."""
    single = graded_course("unet")
    # two shards as parallel containers over one shared course folder, as the Indexed Job runs them; two students
    # a shard prove the merge (SHARDED), the other examples would only add grading time
    shared = tmp_path / "shared"
    for student in SHARDED:
        shutil.copytree(unet_course / "submitted" / student, shared / "submitted" / student)
    # the shards claim their sandbox uids in the host's lock folder (_docker_run), as the other LMS containers do
    procs = [subprocess.Popen(_docker_run(
        docker_client, "--user", "0:0", "--cap-drop", "ALL",
        *[a for c in container.CAPABILITIES for a in ("--cap-add", c)],
        "--security-opt", "no-new-privileges", "-v", f"{shared}:/course", grading_image,
        "python", "-m", "autograder", "shard", "unet", "--index", str(i), "--count", "2", "--jobs", "1",
        "--submitted", "/course/submitted", "--out", "/course/results/unet"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    for p in procs:
        out, _ = p.communicate(timeout=900)
        assert p.returncode == 0, out
    merged = tmp_path / "merged"
    batches.copy(unet_course, merged)
    counts = collect.run(course=Course.open(merged), folder=shared / "results" / "unet")
    assert counts == {"applied": len(SHARDED), "rejected": 0}
    assert _gradebook(merged) == {s: g for s, g in _gradebook(single).items() if s in SHARDED}
    assert {s: sum(g.values()) for s, g in _gradebook(merged).items()} == {s: EXPECTED[s] for s in SHARDED}
    assert (merged / "autograded" / "demo-correct" / "unet" / NOTEBOOK).is_file()


def _gradebook(root: Path) -> dict[str, dict[str, float | None]]:
    course = Course.open(root)
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.student.id: {g.cell.name: g.auto_score for nb in s.notebooks for g in nb.grades}
                for s in gb.find_assignment("unet").submissions}


def test_gradescope_zip_has_the_entry_points_and_no_solutions(tmp_path: Path) -> None:
    path = gradescope_zip.run(assignment="unet", out=tmp_path / "gs.zip")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {"setup.sh", "run_autograder", "requirements-cpu.lock", "course/gradebook.db",
                f"course/release/unet/{NOTEBOOK}", "kit/autograder/platforms/lms.py"} <= names
        for name in ("setup.sh", "run_autograder"):
            assert zf.getinfo(name).external_attr >> 16 & 0o111
        assert not any(n.startswith("course/source/") and n.endswith(".ipynb") for n in names)
        for name in names:
            assert b"BEGIN SOLUTION" not in zf.read(name), name
        (tmp_path / "gradebook.db").write_bytes(zf.read("course/gradebook.db"))
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "unet-course") as gb:
        hidden = [c.source for nb in gb.find_assignment("unet").notebooks for c in nb.source_cells
                  if c.name == "test_conv_block_hidden"]
    # the gradebook keeps the hidden check (the grader restores it from there), the released notebook does not
    assert len(hidden) == 1 and "### BEGIN HIDDEN TESTS" in hidden[0] and "_checks.evidence.record(" in hidden[0], hidden
