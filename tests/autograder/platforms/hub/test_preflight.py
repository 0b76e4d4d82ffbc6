"""The course hub's checks before anything is made, and the configuration it writes (``--config-only``).

Each bad input is one line naming the problem and the fix, and nothing is created: no account, no state folder.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.errors import UserError
from autograder.platforms.hub import exchange, files, preflight, settings

ROOT = Path(__file__).resolve().parents[4]


def _course(tmp_path: Path, staff: str = 'c.CourseHub.instructors = ["teach"]\n') -> Path:
    course = tmp_path / "course"
    (course / "release").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f'c = get_config()\nc.CourseDirectory.course_id = "unet-course"\n{staff}', encoding="utf-8")
    return course


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--root", str(cwd), "hub", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("row, says", [
    ("Alice", "'Alice' cannot be a Unix account name"),
    ("root", "'root' is reserved"),
    ("grader-x", "'grader-x' is reserved"),
    ("teach", "'teach' is already named, as instructor"),
    ("a b", "cannot be a Unix account name"),
])
def test_a_bad_roster_row_is_one_line_naming_the_row(tmp_path: Path, row: str, says: str) -> None:
    course = _course(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student_id\nok1\n{row}\n", encoding="utf-8")
    with pytest.raises(UserError) as err:
        settings.plan(root=course, roster=roster)
    assert f"roster {roster} row 3" in str(err.value) and says in str(err.value)


def test_the_cli_reports_a_bad_roster_in_one_line_and_makes_nothing(tmp_path: Path) -> None:
    course = _course(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nBad Name\n", encoding="utf-8")
    state = tmp_path / "state"
    done = _cli("--roster", str(roster), "--state", str(state), "--port", "1", cwd=course)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: roster ") and "row 2" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not state.exists()


def test_a_course_without_an_instructor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs at least one instructor"):
        settings.plan(root=_course(tmp_path, staff=""), roster=None)


def test_preflight_names_each_problem_with_its_fix(tmp_path: Path) -> None:
    course = _course(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        plan = settings.plan(root=course, roster=None, port=port, exchange=tmp_path / "exchange",
                             state=tmp_path / "state")
        found = preflight.problems(plan, proxy=tmp_path / "no-proxy", venv_bin=ROOT / ".venv" / "bin")
    text = "\n".join(found)
    assert f"port {port} on 127.0.0.1 (the hub (proxy)) is in use" in text and "pick another --port" in text
    if not any(Path(p, "configurable-http-proxy").exists() for p in os.environ.get("PATH", "").split(":")):
        assert "configurable-http-proxy is not installed" in text and "make hub-deps" in text
    with pytest.raises(UserError) as err:
        preflight.check(plan, proxy=tmp_path / "no-proxy", venv_bin=ROOT / ".venv" / "bin")
    assert "nothing was set up" in str(err.value)
    assert not (tmp_path / "state").exists() and not (tmp_path / "exchange").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="makes a folder owned by another account")
def test_an_exchange_someone_else_made_is_refused_and_a_wrong_mode_named(tmp_path: Path) -> None:
    course = _course(tmp_path)
    plan = settings.plan(root=course, roster=None, exchange=tmp_path / "exchange", state=tmp_path / "state")
    (tmp_path / "exchange").mkdir(mode=0o777)
    os.chmod(tmp_path / "exchange", 0o777)  # what nbgrader makes: no sticky bit
    squatted = tmp_path / "exchange" / "unet-course"
    squatted.mkdir()
    os.chown(squatted, 65534, 65534)  # made first by another account (nobody)
    found = exchange.problems(plan)
    assert any("has mode 0777, not 1777" in line and "chmod 1777" in line for line in found), found
    assert any(f"exchange {squatted} belongs to nobody" in line and "remove it" in line for line in found), found


def test_config_only_writes_a_configuration_that_loads(tmp_path: Path) -> None:
    course = _course(tmp_path, 'c.CourseHub.instructors = ["teach"]\nc.CourseHub.assistants = ["ta"]\n'
                               'c.ExecutePreprocessor.timeout = 300\n')
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nann\nben\n", encoding="utf-8")
    out = tmp_path / "hubconfig"
    done = _cli("--roster", str(roster), "--config-only", str(out), cwd=course)
    assert done.returncode == 0, done.stderr
    plan = json.loads((out / "hub.json").read_text())
    assert plan["students"] == ["ann", "ben"] and plan["instructors"] == ["teach"] and plan["assistants"] == ["ta"]
    assert "c.ExecutePreprocessor.timeout = 300" in (out / "jupyter" / "student" / "nbgrader_config.py").read_text()
    script = (out / "exchange-setup.sh").read_text()
    assert "chmod 1777" in script and "chmod 3733" in script and os.access(out / "exchange-setup.sh", os.X_OK)
    values = (out / "z2jh-values.yaml").read_text()
    assert json.loads(values[values.index("{"):])["hub"]["loadRoles"]["formgrade-unet-course"]["scopes"]
    # JupyterHub itself loads the two config files (as `jupyterhub -f` would), with the plan beside them
    code = ("from traitlets.config.loader import PyFileConfigLoader as L; import sys\n"
            "c = L('jupyterhub_config.py', path=sys.argv[1]).load_config()\n"
            "print(sorted(c.JupyterHub.load_groups), c.JupyterHub.services[0]['name'], c.JupyterHub.ip)")
    loaded = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "['formgrade-unet-course', 'nbgrader-unet-course'] unet-course 127.0.0.1"
    assert files.scopes(settings.plan(root=course, roster=roster))["server"][:2] == [
        "users:activity!user", "access:servers!server"]
