"""``c.Autograder`` settings in nbgrader_config.py: read once, applied to the limits, overridden by the documented
variables, and every default written in one place (the class) that the config's comments and the README quote."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import cli
from autograder.course.directory import Course
from autograder.course.settings import Autograder, default
from autograder.errors import UserError

REPO = Path(__file__).resolve().parents[3]


def _course(tmp_path: Path, *lines: str) -> Course:
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.ExecutePreprocessor.timeout = 77\n"
                                                 + "\n".join(lines) + "\n")
    return Course.open(tmp_path)


def test_defaults_and_config_values_reach_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGRADER_KEEP_SCRATCH", raising=False)
    plain = _course(tmp_path).limits()
    assert (plain.cell_timeout, plain.memory_mb, plain.submission_timeout, plain.uid_base) == (77, 4096, 1800, 61000)
    course = _course(tmp_path, "c.Autograder.memory_mb = 1234", "c.Autograder.jobs = 3",
                     "c.Autograder.submission_timeout = 99.5", "c.Autograder.allow = ['data']")
    limits = course.limits()
    assert (limits.memory_mb, limits.submission_timeout, limits.allow) == (1234, 99.5, ["data"])
    assert course.settings.jobs == 3 and course.settings.keep_scratch is False


def test_the_cell_limit_falls_back_to_the_setting(tmp_path: Path) -> None:
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Autograder.cell_timeout = 12.5\n")
    assert Course.open(tmp_path).limits().cell_timeout == 12.5
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    assert Course.open(tmp_path).limits().cell_timeout == default("cell_timeout") == 300


def test_environment_overrides_where_documented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_KEEP_SCRATCH", "1")
    monkeypatch.setenv("AUTOGRADER_DOCKER", "/opt/docker")
    found = _course(tmp_path, "c.Autograder.keep_scratch = False", "c.Autograder.docker = '/usr/bin/docker'").settings
    assert found.keep_scratch is True and found.docker == "/opt/docker"


def test_a_setting_of_the_wrong_type_is_one_line_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        _course(tmp_path, "c.Autograder.memory_mb = 'lots'")
    assert str(tmp_path / "nbgrader_config.py") in str(caught.value) and "\n" not in str(caught.value)
    (tmp_path / "submitted" / "a" / "x").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "autograder", "--root", str(tmp_path), "grade", "x"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 2 and done.stderr.startswith("Error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_opening_a_course_changes_nothing_in_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    Course.open(REPO)
    assert __import__("os").environ["PATH"] == "/usr/bin:/bin"


def test_the_course_config_still_loads_in_nbgrader() -> None:
    """The kit's own config documents the settings without disturbing nbgrader."""
    assert Course.open(REPO).settings.jobs == 0


def test_every_quoted_default_is_the_class_default() -> None:
    """The config's commented lines, the README's table and the CLI's help say what the class declares."""
    quoted = dict(re.findall(r"^# c\.Autograder\.(\w+) = (.+?)(?:\s+#.*)?$", (REPO / "nbgrader_config.py").read_text(),
                             re.M))
    assert quoted, "nbgrader_config.py shows no c.Autograder default"
    for name, value in quoted.items():
        assert ast.literal_eval(value) == default(name), f"nbgrader_config.py: c.Autograder.{name} = {value}"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = {}
    for names, values in re.findall(r"^\| (`c\.Autograder\.[^|]*) \| ([^|]*) \|", readme, re.M):
        shown.update(zip(re.findall(r"`(?:c\.Autograder\.)?(\w+)`", names), re.findall(r"`([^`]*)`", values)))
    assert set(shown) == set(Autograder.class_trait_names()) - {"config", "parent", "log"}, shown
    for name, value in shown.items():
        want = default(name)
        text = " ".join(want) if isinstance(want, list) else ('""' if want == "" else str(want))
        assert value == text, f"README: c.Autograder.{name} shown as {value}, the class says {text}"
    help_text = cli.parser()._subparsers._group_actions[0].choices["grade"].format_help()
    for name in ("memory_mb", "nproc", "submission_timeout", "cell_timeout"):
        assert f"c.Autograder.{name}" in help_text and f"{default(name):g}" in " ".join(help_text.split())


def test_the_limits_have_no_defaults_of_their_own() -> None:
    """The settings-backed fields of Limits must be given: a second default could drift from the class."""
    from dataclasses import MISSING, fields

    from autograder.sandbox.limits import Limits

    backed = {f.name for f in fields(Limits) if f.default is MISSING and f.default_factory is MISSING}
    assert backed == {"cell_timeout", "submission_timeout", "memory_mb", "address_space_mb", "nproc", "tmp_size_mb",
                      "uid_base", "allow"} and backed <= set(Autograder.class_trait_names())
