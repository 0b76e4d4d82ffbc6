"""Container grading benchmark: the grading image against process grading, on the ``unet`` assignment.

Measures, in one run on the same N correct submissions:

1. per-submission overhead of ``grade --container IMAGE`` over process grading (both ``--jobs J``),
   as a ratio of wall times (goal: under 1.15x). A container starts each worker and kernel
   afresh, so the boundary's own cost is measured against ``grade --no-warm``, which does the
   same on the host; the ratio against warm process grading (the default) is reported too;
2. container start time: ``docker run IMAGE true`` with the grading flags, median of 5;
3. image sizes of the CPU and (when built) GPU images (goal: CPU under 2.5 GB).

Needs a Docker daemon and the image (``make image``). Everything runs in a temporary course.

    PATH=.venv/bin:$PATH .venv/bin/python benchmarks/bench_container.py --n 4
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_grading import ASSIGNMENT, REPO, make_course, run  # noqa: E402

from autograder.host.container import docker_binary  # noqa: E402


def grade_wall(course: Path, jobs: int, image: str | None, *flags: str) -> float:
    """Wall time of one ``python -m autograder grade`` over the course (process or container)."""
    extra = (["--container", image] if image else []) + list(flags)
    return run([sys.executable, "-m", "autograder", "--root", str(course), "grade", ASSIGNMENT,
                "--jobs", str(jobs), "--no-progress", *extra], REPO)


def start_seconds(docker: str, image: str, tries: int = 5) -> float:
    """Median time of starting and ending an empty container with the grading flags."""
    times = []
    for _ in range(tries):
        t0 = time.monotonic()
        subprocess.run([docker, "run", "--rm", "--init", "--network", "none", "--read-only", "--tmpfs", "/tmp",
                        image, "true"], check=True, capture_output=True, timeout=120)
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def image_gb(docker: str, tag: str) -> float | None:
    """Image size in GB, None when the image is not built."""
    done = subprocess.run([docker, "image", "inspect", "--format", "{{.Size}}", tag], capture_output=True, text=True)
    return int(done.stdout) / 1e9 if done.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a report (and JSON with --out)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=4, help="submissions graded each way")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--image", default="unet-grader:cpu")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args(argv)
    docker = docker_binary()
    if image_gb(docker, args.image) is None:
        print(f"Error: image {args.image} not found — build it with `make image`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-container-") as tmp:
        courses = {kind: make_course(REPO, Path(tmp) / kind, args.n) for kind in ("cold", "warm", "container")}
        process = grade_wall(courses["cold"], args.jobs, None, "--no-warm")
        warm = grade_wall(courses["warm"], args.jobs, None)
        contained = grade_wall(courses["container"], args.jobs, args.image)
    figures = {
        "n": args.n, "jobs": args.jobs, "process_s": round(process, 1), "container_s": round(contained, 1),
        "overhead_ratio": round(contained / process, 3), "warm_process_s": round(warm, 1),
        "vs_warm_ratio": round(contained / warm, 3),
        "start_s": round(start_seconds(docker, args.image), 2),
        "cpu_image_gb": image_gb(docker, "unet-grader:cpu"), "gpu_image_gb": image_gb(docker, "unet-grader:gpu"),
    }
    print(f"{args.n} submissions, --jobs {args.jobs}: process --no-warm {process:.1f} s, container {contained:.1f} s "
          f"-> overhead {figures['overhead_ratio']:.2f}x (goal < 1.15x)")
    print(f"  warm process grading (the default) {warm:.1f} s -> containers take {figures['vs_warm_ratio']:.2f}x as long")
    print(f"container start (docker run --rm IMAGE true): {figures['start_s']:.2f} s")
    for build in ("cpu", "gpu"):
        size = figures[f"{build}_image_gb"]
        print(f"unet-grader:{build}: " + (f"{size:.2f} GB" if size else "not built") + (" (goal < 2.5 GB)" if build == "cpu" else ""))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
