"""What a graded kernel can reach, tried from inside by hostile submissions (``probes.py``), on every path.

Root's default path (warm and cold kernels; a course under a closed 0700 folder and one under an open
0755 one), an ordinary user grading a course in their own 0700 home, and the grading container. Each
run checks that every attempt failed *and* that the other students of the batch kept their grades.
``--no-sandbox`` shows that the probes do find what is there when nothing confines them.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import toy

sys.path.insert(0, str(Path(__file__).parent))
from corpus import outputs  # noqa: E402
from probes import SYSCALL_PROBES, VIEW_PROBES, Targets, findings, lingering, unix_listener, write_corpus  # noqa: E402

from autograder.course.settings import default
from autograder.course.directory import Course
from autograder.host import container as containers, grade  # noqa: E402
from autograder.sandbox import limits as sandbox  # noqa: E402

REPO = toy.REPO
KIT_SITE = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
MUST_BE_BLOCKED = ("course_files", "other_checkout", "import_grader", "proc_sentinel", "proc_environ", "sockets",
                   "write_outside", "cheat", *SYSCALL_PROBES, *VIEW_PROBES)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creates users and world-readable folders outside the test's own")


@pytest.fixture
def marker() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def elsewhere(marker: str) -> Iterator[Path]:
    """A world-readable folder outside the course (0755 all the way up): another checkout of the kit lives here."""
    folder = Path("/srv") / f"agprobe-{marker}"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    other = folder / "kit"
    shutil.copytree(REPO / "source", other / "source")
    (other / "autograder" / "run" / "judge").mkdir(parents=True)
    shutil.copyfile(REPO / "autograder" / "run" / "judge" / "references.py", other / "autograder" / "run" / "judge" / "references.py")
    shutil.copytree(REPO / "references", other / "references")  # the solutions, as a release stores them
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def unconfined_leftovers(marker: str) -> Iterator[None]:
    """After an unconfined run, pass or fail: remove what its probes wrote into the kit's checkout and stop what they left."""
    yield
    for path in [p for p in (REPO, REPO / "test_utils", Path(sys.prefix)) for p in p.glob(f"pwned-{marker}")]:
        path.unlink()
    subprocess.run(["pkill", "-f", f"linger-{marker}"], check=False)


@pytest.fixture
def sentinel(marker: str) -> Iterator[str]:
    """A process of root's that no kernel may see."""
    name = f"sentinel-{marker}"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", name])
    yield name
    proc.kill()
    proc.wait()


def _place_course(template: Path, parent: Path, mode: int) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    os.chmod(parent, mode)
    course = parent / "course"
    shutil.copytree(template, course)
    return course


def _targets(course: Path, other: Path, sockets: list[str], marker: str, sentinel: str, extra: list[Path] | None = None) -> Targets:
    return Targets(course=course, kit=REPO, other_checkout=other, sockets=sockets + ["/var/run/docker.sock",
                   "/run/postgresql/.s.PGSQL.5432", "/var/run/postgresql/.s.PGSQL.5432"], marker=marker,
                   sentinel=sentinel, extra_files=extra or [])


def _assert_contained(course: Path, rows: list[dict], expected: dict, connections: list, marker: str,
                      targets: Targets, open_ok: tuple[str, ...] = ()) -> None:
    got = {r["student_id"]: (r["status"], float(r["score"])) for r in rows}
    assert got == expected, f"{got}\n{[(r['student_id'], r['reason']) for r in rows]}"
    found = findings(course, [s for s in expected if s not in ("honest", "partial")])
    wanted = [*MUST_BE_BLOCKED, *(["grader_files"] if targets.extra_files else [])]
    assert {name: found.get(name) for name in wanted if name not in open_ok} == \
        {name: "BLOCKED" for name in wanted if name not in open_ok}, found
    assert connections == []
    written = [p for folder in (course, course / "release", REPO, targets.other_checkout, Path("/tmp"), REPO / "test_utils",
                                Path(sys.prefix))
               for p in [folder / f"pwned-{marker}"] if p.exists()]
    assert written == []
    deadline = time.monotonic() + 120
    while lingering(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert lingering(marker) == []
    for control in ("honest", "partial"):
        assert "PROBE" not in outputs(course, control)


@needs_root
@pytest.mark.slow
@pytest.mark.parametrize("parent_mode,warm", [(0o700, True), (0o755, False)], ids=["closed-parent-warm", "open-parent-cold"])
def test_root_default_path(toy_template: Path, tmp_path: Path, small_limits: sandbox.Limits, marker: str,
                           elsewhere: Path, sentinel: str, parent_mode: int, warm: bool) -> None:
    base = tmp_path if parent_mode == 0o700 else elsewhere / "open"
    course = _place_course(toy_template, base / "home", parent_mode)
    with unix_listener(elsewhere / "run", marker) as (sockets, connections):
        targets = _targets(course, elsewhere / "kit", sockets, marker, sentinel)
        expected = write_corpus(targets)
        rows = grade.run(course=Course.open(course), assignment="toy", jobs=2, limits=small_limits, progress=False, quiet=True, warm=warm)
    _assert_contained(course, rows, expected, connections, marker, targets)


@needs_root
@pytest.mark.slow
def test_without_the_sandbox_the_probes_find_everything(toy_template: Path, tmp_path: Path, small_limits: sandbox.Limits,
                                                        marker: str, elsewhere: Path, sentinel: str,
                                                        capsys: pytest.CaptureFixture, unconfined_leftovers: None) -> None:
    """The probes are not blind: unconfined (``--no-sandbox``), each finds what it looks for, and the run says so."""
    course = _place_course(toy_template, elsewhere / "open" / "home", 0o755)
    with unix_listener(elsewhere / "run", marker) as (sockets, connections):
        targets = _targets(course, elsewhere / "kit", sockets, marker, sentinel)
        write_corpus(targets)
        rows = grade.run(course=Course.open(course), assignment="toy", jobs=2, limits=small_limits, progress=False, confine=False)
        n_connections = len(connections)
    found = findings(course, ["course_files", "other_checkout", "import_grader", "processes", "sockets", "write_outside",
                              "cheat"])
    for name in ("course_files", "other_checkout", "import_grader", "proc_sentinel", "sockets", "write_outside", "cheat"):
        assert found[name].startswith("OPEN"), (name, found)
    assert n_connections > 0
    scores = {r["student_id"]: float(r["score"]) for r in rows}
    assert scores["cheat"] == 6  # what the sandbox takes away
    assert all(grade.UNCONFINED in r["reason"] for r in rows)
    with (course / "grades.csv").open() as fh:
        assert all(grade.UNCONFINED in r["reason"] for r in csv.DictReader(fh))
    assert "--no-sandbox" in capsys.readouterr().out


# --- an ordinary user grading in their own closed home folder ------------------------------------------------


@pytest.fixture(scope="module")
def instructor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A fresh ordinary user with a 0700 home and a Python of their own that uses the kit's installed packages."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a user")
    name = f"agi{uuid.uuid4().hex[:8]}"
    home = Path("/home") / name
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh", name], check=True)
    os.chmod(home, 0o700)
    try:
        venv = home / "venv"
        # the kit's own interpreter may sit in root's closed home (pyenv); the system's 3.11 reads the same packages
        system_python = shutil.which("python3.11", path="/usr/bin:/usr/local/bin") or sys.executable
        _as(name, home, [system_python, "-m", "venv", "--without-pip", str(venv)], {})
        purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        Path(purelib, "kit.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in KIT_SITE))
        for script, entry in (("alembic", "alembic.config"), ("nbgrader", "nbgrader.apps.nbgraderapp")):  # run from PATH
            (venv / "bin" / script).write_text(f"#!{venv / 'bin' / 'python'}\nfrom {entry} import main\nmain()\n")
            (venv / "bin" / script).chmod(0o755)
        subprocess.run(["chown", "-R", f"{name}:{name}", str(home)], check=True)
        env = {"HOME": str(home), "USER": name, "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8",
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        yield name, home, env
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def _as(user: str, home: Path, argv: list[str], env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv],
                          cwd=home, capture_output=True, text=True, timeout=timeout)


def _user_course(toy_template: Path, home: Path) -> Path:
    course = home / f"course-{uuid.uuid4().hex[:6]}"
    shutil.copytree(toy_template, course)
    return course


def _own(user: str, path: Path) -> None:
    subprocess.run(["chown", "-R", f"{user}:{user}", str(path)], check=True)


@needs_root
@pytest.mark.slow
def test_ordinary_user_in_a_closed_home(toy_template: Path, instructor: tuple[str, Path, dict[str, str]], marker: str,
                                        elsewhere: Path) -> None:
    user, home, env = instructor
    course = _user_course(toy_template, home)
    sentinel = subprocess.Popen(["runuser", "-u", user, "--", "/usr/bin/python3", "-c", "import time; time.sleep(900)",
                                 f"sentinel-{marker}"])
    roots_run = sandbox.UidClaims(default("uid_base"))  # root grading on the same machine at the same time
    roots_run.uid(0)
    try:
        with unix_listener(elsewhere / "run", marker) as (sockets, connections):
            targets = _targets(course, elsewhere / "kit", sockets, marker, f"sentinel-{marker}")
            expected = write_corpus(targets)
            _own(user, course)
            done = _as(user, home, [f"{home}/venv/bin/python", "-m", "autograder", "--root", str(course), "grade", "toy",
                                    "--jobs", "2", "--timeout", "60", "--no-progress"], env)
            assert done.returncode == 0, done.stdout + done.stderr
        with (course / "grades.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        _assert_contained(course, rows, expected, connections, marker, targets)
        # the kernel kept the instructor's uid but could not touch the instructor's files
        assert not (home / f"pwned-{marker}").exists()
    finally:
        roots_run.release()
        sentinel.kill()
        sentinel.wait()


@needs_root
@pytest.mark.slow
def test_no_user_namespaces_stops_grading_before_any_student_code(toy_template: Path, instructor: tuple[str, Path, dict[str, str]],
                                                                   marker: str) -> None:
    """Fail closed: one line saying why and what to do, nothing graded; --no-sandbox grades and says so; check runs."""
    user, home, env = instructor
    course = _user_course(toy_template, home)
    toy.submit(course, "alice", {"square": toy.CORRECT["square"] + f"\nopen('/tmp/ran-{marker}', 'w')",
                                 "add": toy.CORRECT["add"]})
    _own(user, course)
    python = f"{home}/venv/bin/python"
    walled = [python, str(Path(__file__).with_name("no_namespaces.py")), python]  # as in Docker's default seccomp profile
    refused = _as(user, home, [*walled, "-m", "autograder", "--root", str(course), "grade", "toy", "--no-progress"], env)
    assert not (course / "autograded").exists()
    unconfined = _as(user, home, [*walled, "-m", "autograder", "--root", str(course), "grade", "toy", "--no-progress",
                                  "--no-sandbox"], env)
    checked = _as(user, home, [*walled, "-m", "autograder", "--root", str(course), "check",
                               str(course / "submitted" / "alice" / "toy" / "toy.ipynb")], env)
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert refused.returncode != 0 and len(lines) == 1, refused.stdout + refused.stderr
    assert lines[0].startswith("Error: student code cannot be confined on this machine") and "--no-sandbox" in lines[0]
    assert "Traceback" not in refused.stderr
    assert unconfined.returncode == 0, unconfined.stdout + unconfined.stderr
    assert "--no-sandbox" in unconfined.stdout
    with (course / "grades.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["status"] == "graded" and float(row["score"]) == 6 and grade.UNCONFINED in row["reason"]
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "runs unconfined here" in checked.stdout and "PASS" in checked.stdout
    Path(f"/tmp/ran-{marker}").unlink(missing_ok=True)  # the unconfined runs wrote it; the refused one ran nothing


# --- the grading container --------------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_container_path(course: Path, small_limits: sandbox.Limits, docker_client: str, grading_image: str, marker: str,
                        sentinel: str, tmp_path: Path) -> None:
    extra = [Path("/opt/grader/autograder/run/judge/references.py"), Path("/opt/grader/autograder"), Path("/opt/grader"),
             Path("/opt/course/gradebook.db"), Path("/opt/course/source"), Path("/opt/course/nbgrader_config.py"),
             Path("/opt/course/references"), Path("/opt/course/references/unet/Image_segmentation_Unet.json"),
             Path("/job/course"), Path("/job/template.db"), Path("/job/job.json"), Path("/job/policy.json")]
    other = tmp_path / "other"
    other.mkdir()
    with unix_listener(tmp_path / "run", marker) as (sockets, connections):
        targets = _targets(course, other, sockets, marker, sentinel, extra)
        expected = write_corpus(targets)
        opts = containers.Options(grading_image, docker=docker_client, disk_mb=64)
        rows = grade.run(course=Course.open(course), assignment="toy", jobs=2, limits=small_limits, progress=False, quiet=True,
                         container=opts)
    # a container lists its own few processes (the worker's among them), but their memory and environment stay closed;
    # its /proc, cgroups and mounts are Docker's (the launcher's own view is not built there)
    _assert_contained(course, rows, expected, connections, marker, targets, open_ok=VIEW_PROBES)
