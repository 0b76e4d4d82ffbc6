"""The command line: exit codes, one-line errors, tracebacks only with --debug."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "data_fetch", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_help_lists_the_commands(tmp_path: Path) -> None:
    done = cli("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in ("synthetic", "kaggle", "url", "normalize"):
        assert command in done.stdout


def test_synthetic_writes_the_dataset(tmp_path: Path) -> None:
    done = cli("synthetic", "--frames", "2", "--dest", "data/synthetic", "--width", "64", "--height", "48",
               "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "data" / "synthetic"
    assert sorted(p.name for p in root.iterdir()) == ["CameraMask", "CameraRGB", "manifest.json"]
    assert len(list((root / "CameraRGB").glob("*.png"))) == 2


@pytest.mark.parametrize("args, fragment", [
    (["synthetic", "--frames", "1", "--dest", "taken", "--width", "64", "--height", "48"], "taken already exists"),
    (["normalize", "missing", "--dest", "out"], "missing is not a folder"),
    (["url", "missing.zip", "--sha256", "0" * 64, "--dest", "out"], "missing.zip does not exist"),
])
def test_user_errors_are_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    (tmp_path / "taken" / "x").mkdir(parents=True)
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ") and fragment in lines[0] and " — " in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = cli("--debug", "normalize", "missing", "--dest", "out", cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_argument_errors_exit_non_zero(tmp_path: Path) -> None:
    assert cli("synthetic", "--frames", "0", "--dest", "x", cwd=tmp_path).returncode == 2
    assert cli("teleport", cwd=tmp_path).returncode == 2
