"""``c.Autograder`` settings in nbgrader_config.py: read, applied to the limits, overridden by the documented variables."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course.directory import Course
from autograder.course.settings import settings
from autograder.errors import UserError
from autograder.host import grade

REPO = Path(__file__).resolve().parents[3]


def _course(tmp_path: Path, *lines: str) -> Course:
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.ExecutePreprocessor.timeout = 77\n"
                                                 + "\n".join(lines) + "\n")
    return Course.open(tmp_path)


def test_defaults_and_config_values_reach_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGRADER_KEEP_SCRATCH", raising=False)
    plain = grade.default_limits(_course(tmp_path))
    assert (plain.cell_timeout, plain.memory_mb, plain.submission_timeout, plain.uid_base) == (77, 4096, 1800, 61000)
    course = _course(tmp_path, "c.Autograder.memory_mb = 1234", "c.Autograder.jobs = 3",
                     "c.Autograder.submission_timeout = 99.5", "c.Autograder.allow = ['data']")
    limits = grade.default_limits(course)
    assert (limits.memory_mb, limits.submission_timeout, limits.allow) == (1234, 99.5, ["data"])
    assert settings(course).jobs == 3 and settings(course).keep_scratch is False


def test_environment_overrides_where_documented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    course = _course(tmp_path, "c.Autograder.keep_scratch = False", "c.Autograder.docker = '/usr/bin/docker'")
    monkeypatch.setenv("AUTOGRADER_KEEP_SCRATCH", "1")
    monkeypatch.setenv("AUTOGRADER_DOCKER", "/opt/docker")
    found = settings(course)
    assert found.keep_scratch is True and found.docker == "/opt/docker"


def test_a_setting_of_the_wrong_type_is_one_line_naming_the_file(tmp_path: Path) -> None:
    course = _course(tmp_path, "c.Autograder.memory_mb = 'lots'")
    with pytest.raises(UserError) as caught:
        settings(course)
    assert str(tmp_path / "nbgrader_config.py") in str(caught.value) and "\n" not in str(caught.value)
    (tmp_path / "submitted" / "a" / "x").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "autograder", "--root", str(tmp_path), "grade", "x"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 2 and done.stderr.startswith("Error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_course_config_still_loads_in_nbgrader() -> None:
    """The kit's own config documents the settings without disturbing nbgrader."""
    assert settings(Course.open(REPO)).jobs == 0
