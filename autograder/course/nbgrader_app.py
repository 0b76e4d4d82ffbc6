"""Run an nbgrader command on the course (a subprocess, so its config stays its own)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autograder.course.directory import Course, tools_path
from autograder.errors import UserError


def run_app(course: Course, args: list[str], timeout: float = 3600) -> str:
    """``nbgrader ARGS`` in the course root with the autograder's gradebook URL; its output."""
    nbgrader = Path(sys.executable).with_name("nbgrader")
    cmd = [str(nbgrader) if nbgrader.exists() else "nbgrader", *args, f"--CourseDirectory.db_url={course.db_url}"]
    env = {**os.environ, "PATH": tools_path()}
    proc = subprocess.run(cmd, cwd=course.root, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        last = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        raise UserError(f"`nbgrader {' '.join(args)}` failed in {course.root}: {last[-1] if last else proc.returncode}",
                        "see the message above; rerun with --debug for nbgrader's full log")
    return proc.stdout + proc.stderr
