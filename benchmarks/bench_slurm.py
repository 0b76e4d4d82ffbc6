"""SLURM array grading against process grading, on the demo batch, in one run.

Two copies of a temporary course hold the same demo submissions of ``make demo``. One is graded with
``python -m autograder grade ASSIGNMENT --jobs 2``, the other as a SLURM array job of 2 shards of one CPU
each (``python -m autograder slurm ASSIGNMENT --shards 2 --wait``: sbatch, the tasks, squeue polling
and the merge with collect). Prints both wall times, their ratio, and whether the two gradebooks agree
on every score. A one-machine cluster is started (and stopped) when no SLURM controller answers.

    .venv/bin/python benchmarks/bench_slurm.py                  # unet demo batch
    .venv/bin/python benchmarks/bench_slurm.py --assignment unet_variants
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.course import scratch  # noqa: E402
from autograder.course.directory import Course  # noqa: E402
from autograder.instructor import examples  # noqa: E402
from autograder.platforms.slurm import cluster  # noqa: E402


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(REPO), **(extra or {})}


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(f"Error: {' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return time.monotonic() - t0


def _course(dest: Path, assignment: str) -> Path:
    scratch.build(dest, origin=REPO, assignment=assignment, source="all", data=True)
    _timed([str(Path(sys.executable).with_name("nbgrader")), "generate_assignment", assignment, "--force"], dest, _env())
    examples.write_examples(root=dest, assignment=assignment)
    return dest


def _scores(root: Path, assignment: str) -> dict[tuple[str, str], float | None]:
    course = Course.open(root)
    with Gradebook(course.db_url, course.course_id) as gb:
        return {(s.student.id, g.name): g.score for s in gb.find_assignment(assignment).submissions
                for nb in s.notebooks for g in nb.grades}


def main() -> int:
    """Run the comparison once and print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", default="unet", choices=sorted(examples.ASSIGNMENTS))
    args = p.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as tmp:
        local = _course(Path(tmp) / "process", args.assignment)
        array = Path(tmp) / "array"
        shutil.copytree(local, array, symlinks=True)
        n = len(examples.ASSIGNMENTS[args.assignment][1])
        print(f"{n} demo submissions of {args.assignment}, {os.cpu_count()} cores")
        t_process = _timed([py, "-m", "autograder", "grade", args.assignment, "--jobs", "2", "--no-progress"], local,
                           _env())
        print(f"grade --jobs 2:          {t_process:7.1f} s")
        own = None
        try:
            extra: dict[str, str] = {}
            if not cluster.answers():
                why = cluster.missing()
                if why:
                    raise SystemExit(f"Error: no SLURM controller answers: {why}")
                own = cluster.start(Path(tmp) / "cluster")
                extra = {"SLURM_CONF": str(own.conf)}
            t_array = _timed([py, "-m", "autograder", "slurm", args.assignment, "--shards", "2", "--wait"], array,
                             _env(extra))
        finally:
            if own is not None:
                own.stop()
        print(f"slurm --shards 2 --wait: {t_array:7.1f} s  (sbatch to merged gradebook)")
        print(f"ratio array/process:     {t_array / t_process:7.2f}")
        same = _scores(local, args.assignment) == _scores(array, args.assignment)
        print(f"gradebooks identical:    {'yes' if same else 'NO'}")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
