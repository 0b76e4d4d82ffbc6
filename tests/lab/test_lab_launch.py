"""``python -m autograder lab``: the command line it builds for students and instructors, its errors, and a live check."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import pytest

import service_logs
from autograder import cli
from autograder.instructor import lab
from autograder.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "lab-launch-test"


def _flags(argv: list[str], name: str) -> dict[str, str]:
    """``--ServerApp.jpserver_extensions=a=True`` flags as {a: "True"}."""
    prefix = f"--{name}="
    return dict(a[len(prefix):].split("=", 1) for a in argv if a.startswith(prefix))


def _disabled(launch: lab.LabLaunch) -> set[str]:
    page = json.loads((launch.config_dir / "labconfig" / "page_config.json").read_text())
    return {name for name, off in page["disabledExtensions"].items() if off}


def test_student_lab_has_validate_only(tmp_path: Path, user_env: Callable[..., dict[str, str]]) -> None:
    """Students: Validate on, instructor parts off, release/ opened, 127.0.0.1, no news or update checks."""
    launch = lab.prepare(root=ROOT, port=None, open_browser=False, extra_env=user_env(tmp_path / "home"),
                         config_dir=tmp_path / "cfg")
    servers = _flags(launch.argv, "ServerApp.jpserver_extensions")
    assert servers == {lab.SERVER_VALIDATE: "True", lab.SERVER_NBGRADER_VALIDATE: "False",
                       lab.SERVER_ASSIGNMENTS: "False", lab.SERVER_FORMGRADER: "False", lab.SERVER_COURSES: "False"}
    assert {lab.LAB_FORMGRADER, lab.LAB_CREATE, lab.LAB_COURSES, lab.LAB_ASSIGNMENTS, lab.LAB_MENU,
            lab.LAB_ANNOUNCEMENTS} <= _disabled(launch)
    assert lab.LAB_VALIDATE not in _disabled(launch)
    assert launch.notebook_dir == ROOT / "release" and launch.cwd == ROOT
    assert "--ServerApp.ip=127.0.0.1" in launch.argv and "--ServerApp.open_browser=False" in launch.argv
    assert "--LabApp.news_url=None" in launch.argv
    assert "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate" in launch.argv
    assert ("--allow-root" in launch.argv) == (os.geteuid() == 0)
    assert launch.env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(tmp_path / "cfg")
    assert not (tmp_path / "home" / ".jupyter").exists(), "the user's own Jupyter config must stay untouched"


def test_student_gets_assignment_list_with_an_exchange(tmp_path: Path,
                                                       user_env: Callable[..., dict[str, str]]) -> None:
    """An exchange in the student's nbgrader config switches the Assignment List (and the menu) on."""
    home = tmp_path / "home"
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(tmp_path / 'exchange')!r}\n")
    launch = lab.prepare(root=ROOT, open_browser=False, extra_env=user_env(home), config_dir=tmp_path / "cfg")
    assert launch.exchange == tmp_path / "exchange"
    assert _flags(launch.argv, "ServerApp.jpserver_extensions")[lab.SERVER_ASSIGNMENTS] == "True"
    assert lab.LAB_ASSIGNMENTS not in _disabled(launch) and lab.LAB_MENU not in _disabled(launch)
    assert {lab.LAB_FORMGRADER, lab.LAB_CREATE, lab.LAB_COURSES} <= _disabled(launch)


def test_instructor_lab_has_everything(tmp_path: Path, user_env: Callable[..., dict[str, str]]) -> None:
    """The instructor: course root, Formgrader, Create Assignment and Course List on."""
    launch = lab.prepare(root=ROOT, instructor=True, port=18765, open_browser=True,
                         extra_env=user_env(tmp_path / "home"), config_dir=tmp_path / "cfg")
    servers = _flags(launch.argv, "ServerApp.jpserver_extensions")
    assert servers[lab.SERVER_FORMGRADER] == servers[lab.SERVER_COURSES] == servers[lab.SERVER_VALIDATE] == "True"
    assert servers[lab.SERVER_NBGRADER_VALIDATE] == "False"  # the bounded Validate stands in for nbgrader's
    assert not {lab.LAB_FORMGRADER, lab.LAB_CREATE, lab.LAB_COURSES} & _disabled(launch)
    assert launch.notebook_dir == ROOT
    assert "--ServerApp.port=18765" in launch.argv and "--ServerApp.port_retries=0" in launch.argv


def test_errors_are_one_line_with_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a course, a busy port, a missing folder: ``Error: ... — what to do`` and a non-zero exit."""
    assert cli.main(["--root", str(tmp_path), "lab", "--no-browser"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and " — " in err and "\n" not in err and "nbgrader_config.py" in err

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UserError, match="in use"):
            lab.prepare(root=ROOT, port=busy.getsockname()[1], config_dir=tmp_path / "cfg")
    with pytest.raises(UserError, match="does not exist"):
        lab.prepare(root=ROOT, notebook_dir=tmp_path / "missing", config_dir=tmp_path / "cfg")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "autograder", *args, "--no-browser"], cwd=ROOT, env=env,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - 127.0.0.1 only
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_up(process: subprocess.Popen, base: str, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"JupyterLab exited:\n{log.read_text()[-2000:]}"
        try:
            if _status(f"{base}/api/status?token={TOKEN}") == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # the lab command passes SIGTERM on to JupyterLab
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


@pytest.mark.slow
def test_live_servers_student_and_instructor(scratch_course: Path, tmp_path: Path, free_port: Callable[[], int],
                                            user_env: Callable[..., dict[str, str]]) -> None:
    """Started for real: the student's server has no Formgrader, the instructor's has; both on 127.0.0.1 only."""
    for instructor in (False, True):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = service_logs.folder("lab-launch") / f"lab-{'instructor' if instructor else 'student'}.log"
        env = user_env(tmp_path / f"home-{instructor}", JUPYTER_TOKEN=TOKEN)
        args = ["--root", str(scratch_course), "lab", "--port", str(port)] + (["--instructor"] if instructor else [])
        process = _start(args, env, log)
        try:
            _wait_up(process, base, log)
            if shutil.which("ss"):
                listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
                assert listening.strip() and all("127.0.0.1:" in ln for ln in listening.splitlines()), listening
            assert _status(f"{base}/formgrader?token={TOKEN}") == (200 if instructor else 404)
            assert _status(f"{base}/nbgrader_version?version=0&token={TOKEN}") == 200  # Validate's server side
            with urllib.request.urlopen(f"{base}/lab?token={TOKEN}", timeout=120) as answer:  # noqa: S310
                page = answer.read().decode()
            assert ('"@jupyter/nbgrader:formgrader"' in page.split('"disabledExtensions"')[1].split("]")[0]) \
                != instructor
        finally:
            _stop(process)
        assert process.returncode is not None
