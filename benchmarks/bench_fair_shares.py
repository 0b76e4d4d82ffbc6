"""Fair shares: how much slower an honest submission's cell runs beside hostile ones (busy loops, floods).

    python benchmarks/bench_fair_shares.py [--jobs 2] [--repeat 2]

Grades the toy course twice in one process: honest submissions only, then the same honest submissions
beside hostile ones (each busy-loops on 4 processes for 20 s, or prints 200 MB), ``--jobs`` at a time.
Each honest notebook times a fixed piece of CPU work in its own cell; the script prints the median of
those times in both runs and their ratio (the goal: within 1.5x), with the machine's load average.
The kernels' CPU ceilings (cgroup ``cpu.max`` / CFS quota, root only) are what keeps the ratio down.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "autograder"))

import nbformat  # noqa: E402
import toy  # noqa: E402

from autograder.course.directory import Course  # noqa: E402
from autograder.course.settings import Autograder  # noqa: E402
from autograder.host import grade  # noqa: E402
from autograder.sandbox import limits as sandbox  # noqa: E402

HONEST = ("import time\n_t = time.perf_counter()\nsum(i * i for i in range(4_000_000))\n"
          "print('HONEST_S', time.perf_counter() - _t)\n")
BUSY = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        _t = time.time()\n"
        "        while time.time() - _t < 20:\n            pass\n        os._exit(0)\n"
        "_t = time.time()\nwhile time.time() - _t < 20:\n    pass\n")
FLOOD = "for _ in range(200):\n    print('x' * 2**20)\n"


def honest_times(course: Path, students: list[str]) -> list[float]:
    """The honest cell's own timing, from each graded notebook."""
    times = []
    for student in students:
        nb = nbformat.read(course / "autograded" / student / "toy" / "toy.ipynb", as_version=4)
        text = "".join(str(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []))
        times.append(float(text.split("HONEST_S ")[1].split()[0]))
    return times


def run(workdir: Path, name: str, hostile: bool, jobs: int, repeat: int) -> list[float]:
    """Grade ``repeat`` honest submissions (and as many hostile ones beside them); their cell times."""
    course = toy.make_course(workdir / name)
    sq, add = toy.CORRECT["square"], toy.CORRECT["add"]
    honest = []
    for i in range(repeat):  # names sort so that each honest submission starts beside a hostile one
        honest.append(f"{i}b_honest")
        toy.submit(course, honest[-1], {"square": HONEST + sq, "add": add})
        if hostile:
            toy.submit(course, f"{i}a_busy", {"square": BUSY + sq, "add": add})
            toy.submit(course, f"{i}c_flood", {"square": FLOOD + sq, "add": add})
    limits = dataclasses.replace(Autograder().limits(), cell_timeout=60, submission_timeout=180)
    grade.run(course=Course.open(course), assignment="toy", jobs=jobs, limits=limits, progress=False, plot=False)
    return honest_times(course, honest)


def main() -> None:
    """Both runs, side by side; print the ratio and the load average."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fair-") as tmp:
        alone = run(Path(tmp), "alone", False, args.jobs, args.repeat)
        beside = run(Path(tmp), "beside", True, args.jobs, args.repeat)
    a, b = statistics.median(alone), statistics.median(beside)
    print(f"honest cell alone: {a:.2f} s {sorted(round(t, 2) for t in alone)}")
    print(f"honest cell beside busy loops and floods: {b:.2f} s {sorted(round(t, 2) for t in beside)}")
    print(f"ratio {b / a:.2f} (goal <= 1.5); jobs {args.jobs}; {sandbox.bounds_note(args.jobs)}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
