"""Grading benchmark on the real ``unet`` assignment.

Measures, in one run:

1. the same N submissions graded by sequential ``nbgrader autograde`` and by
   ``python -m autograder grade --jobs J`` (goal: ratio >= 1.7 with 2 jobs on 2 cores);
2. per-submission time against the floor: a fresh Python that only imports TensorFlow and
   builds the reference model (goal: within 2x);
3. peak resident memory per sandboxed kernel (sampled by the kernel's uid) and of the workers;
4. wall time for growing batch sizes (``--sizes 10,100``) to show linear growth.

Submissions are the released notebook with the instructor's solutions filled in. Everything
happens in a temporary course; the real course is not touched.

    .venv/bin/python benchmarks/bench_grading.py --quick            # N=2, no size sweep
    .venv/bin/python benchmarks/bench_grading.py --n 4 --sizes 10,100
    .venv/bin/python benchmarks/bench_grading.py --baseline /tmp/before --n 4 --pairs 2   # before/after

``--baseline KIT`` grades the same correct submissions with another checkout of the kit (with its own
``.venv``, e.g. a ``git worktree`` of an earlier commit), alternating with this one (A B B A ...), and prints
the per-submission time of each and their ratio: a change's cost, measured side by side in one run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "unet"
NOTEBOOK = "Image_segmentation_Unet.ipynb"


def env(python: Path | None = None, kit: Path = REPO) -> dict[str, str]:
    """PATH with the venv first (nbgrader runs alembic), quiet TensorFlow."""
    bin_dir = str((python or Path(sys.executable)).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(kit)}


def run(cmd: list[str], cwd: Path, timeout: float = 7200, python: Path | None = None, kit: Path = REPO) -> float:
    """Run a command, fail loudly, return its wall time."""
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env(python, kit), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"Error: {' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return time.monotonic() - t0


def solutions(root: Path) -> dict[str, str]:
    """grade_id -> the instructor's answer (solution markers removed)."""
    from autograder.instructor.examples import answer_sources

    return answer_sources(root / "source" / ASSIGNMENT / NOTEBOOK)


def make_course(root: Path, dest: Path, n: int, python: Path | None = None) -> Path:
    """A temporary course with the assignment released and ``n`` correct submissions."""
    from autograder.course import scratch

    dest.mkdir(parents=True)
    scratch.build(dest, origin=root, assignment=ASSIGNMENT, source="all", data=True)
    python = python or Path(sys.executable)
    run([str(python.with_name("nbgrader")), "generate_assignment", ASSIGNMENT, "--force"], dest, python=python, kit=root)
    from autograder.instructor.examples import UNET_EXAMPLES, build_submission

    correct = UNET_EXAMPLES[0]  # the instructor's solution, filled into the released notebook
    nb = build_submission(correct, dest / "release" / ASSIGNMENT / NOTEBOOK, solutions(root))
    for i in range(n):
        folder = dest / "submitted" / f"s{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NOTEBOOK)
    return dest


def floor_seconds(root: Path) -> float:
    """A fresh kernel importing TensorFlow and building the reference U-Net (the grading floor)."""
    from nbclient import NotebookClient

    answers = solutions(root)
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_code_cell("import tensorflow as tf\nimport numpy as np\nfrom tensorflow.keras.layers import "
                         "Input, Conv2D, MaxPooling2D, Dropout, Conv2DTranspose, concatenate"),
        v4.new_code_cell("\n".join(answers.get(k, "") for k in ("conv_block", "upsampling_block", "unet_model"))),
        v4.new_code_cell("m = unet_model((96, 128, 3))\nm.compile('adam', 'sparse_categorical_crossentropy')"),
    ])
    t0 = time.monotonic()
    NotebookClient(nb, kernel_name="python3", timeout=600).execute()
    return time.monotonic() - t0


class MemorySampler:
    """Peak memory per sandbox uid (each kernel and its children) and per worker process.

    Workers and warm kernels are forks of one server and share its pages, so besides resident
    memory (RSS, which counts shared pages in every process) the sampler records the unique
    memory (USS) of each: what one more parallel job really adds.
    """

    def __init__(self, uid_base: int = 61000, slots: int = 64) -> None:
        self.uids = range(uid_base, uid_base + slots)
        self.kernel_peak = self.kernel_uss_peak = 0
        self.worker_peak = self.worker_uss_peak = 0
        self.server_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            rss: dict[int, int] = {}
            uss: dict[int, int] = {}
            for p in psutil.process_iter(["uids", "memory_info", "cmdline", "ppid"]):
                try:
                    uid, mem = p.info["uids"].real, p.info["memory_info"].rss
                    cmd = " ".join(p.info["cmdline"] or [])
                    if uid in self.uids:
                        rss[uid] = rss.get(uid, 0) + mem
                        uss[uid] = uss.get(uid, 0) + p.memory_full_info().uss
                    elif "autograder.run.worker" in cmd or ("autograder.host.forkserver" in cmd and _is_fork(p)):
                        self.worker_peak = max(self.worker_peak, mem)
                        self.worker_uss_peak = max(self.worker_uss_peak, p.memory_full_info().uss)
                    elif "autograder.host.forkserver" in cmd:
                        self.server_peak = max(self.server_peak, mem)
                except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError, TypeError):
                    continue
            if rss:
                self.kernel_peak = max(self.kernel_peak, max(rss.values()))
                self.kernel_uss_peak = max(self.kernel_uss_peak, max(uss.values()))

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _is_fork(p: psutil.Process) -> bool:
    """A worker forked by the fork server (its parent runs the same server command line)."""
    try:
        return "autograder.host.forkserver" in " ".join(psutil.Process(p.info["ppid"]).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def grade_parallel(course: Path, jobs: int, *extra: str, python: Path | None = None,
                   kit: Path = REPO) -> tuple[float, list[float]]:
    """Wall time of ``python -m autograder grade`` and the per-submission durations it recorded."""
    wall = run([str(python or sys.executable), "-m", "autograder", "--root", str(course), "grade", ASSIGNMENT,
                "--jobs", str(jobs), "--no-progress", *extra], kit, python=python, kit=kit)
    ledger = course / "autograded" / ".autograder" / ASSIGNMENT
    durations = [json.loads(p.read_text())["duration_s"] for p in ledger.glob("*.json")]
    statuses = {json.loads(p.read_text())["status"] for p in ledger.glob("*.json")}
    if statuses != {"graded"}:
        print(f"warning: statuses {statuses}", file=sys.stderr)
    with open(course / "grades.csv") as fh:
        scores = {line.split(",")[2] == line.split(",")[3] for line in list(fh)[1:]}
    if scores != {True}:
        print("warning: a correct submission lost points", file=sys.stderr)
    failed = _failed_cells(course / "autograded")
    if failed:  # a correct submission must run through: a cell that failed skipped work and skews the timing
        raise SystemExit(f"Error: correct submissions failed in cells of {course}: {failed[:3]} "
                         "(is the dataset inside that kit's folder? the sandbox hides paths outside it)")
    return wall, durations


def _failed_cells(autograded: Path) -> list[str]:
    """``student: first line of the error`` for every cell of the graded notebooks that raised."""
    failed = []
    for path in sorted(autograded.glob(f"*/{ASSIGNMENT}/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    failed.append(f"{path.parts[-3]}: {output.get('ename')}: {str(output.get('evalue'))[:80]}")
    return failed


def compare_with_baseline(baseline: Path, n: int, jobs: int, pairs: int, tmp: Path) -> dict[str, float]:
    """Per-submission worker time of this kit and of ``baseline``, graded in turn on the same submissions."""
    kits = {"after": (REPO, Path(sys.executable)), "before": (baseline, baseline / ".venv" / "bin" / "python")}
    durations: dict[str, list[float]] = {"after": [], "before": []}
    walls: dict[str, list[float]] = {"after": [], "before": []}
    order = [name for i in range(pairs) for name in (("after", "before") if i % 2 == 0 else ("before", "after"))]
    for index, name in enumerate(order):
        root, python = kits[name]
        course = make_course(root, tmp / f"{name}{index}", n, python)
        wall, got = grade_parallel(course, jobs, python=python, kit=root)
        durations[name] += got
        walls[name].append(wall)
        shutil.rmtree(course, ignore_errors=True)
    median = {name: sorted(v)[len(v) // 2] for name, v in durations.items()}
    return {"before_per_submission_s": median["before"], "after_per_submission_s": median["after"],
            "per_submission_ratio": median["after"] / median["before"],
            "before_wall_s": sum(walls["before"]) / len(walls["before"]),
            "after_wall_s": sum(walls["after"]) / len(walls["after"])}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a report (and JSON with --out)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=REPO, help="course with source/unet (default: the repository)")
    p.add_argument("--n", type=int, default=4, help="submissions for the sequential/parallel comparison")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--sizes", default="10", help="comma-separated batch sizes for the growth test ('' to skip)")
    p.add_argument("--quick", action="store_true", help="n=2 and no size sweep")
    p.add_argument("--cold", action="store_true",
                   help="also grade with --no-warm (fresh worker and kernel per submission) for comparison")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    p.add_argument("--baseline", type=Path, help="another checkout of the kit with its own .venv: compare only")
    p.add_argument("--pairs", type=int, default=2, help="with --baseline: how many before/after pairs")
    args = p.parse_args(argv)
    if args.baseline:
        if not (args.baseline / ".venv" / "bin" / "python").exists():
            print(f"Error: {args.baseline}/.venv/bin/python not found — give a checkout with its own virtual "
                  "environment", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="ag-bench-") as tmp:
            figures = compare_with_baseline(args.baseline, args.n, args.jobs, args.pairs, Path(tmp))
        print(f"per submission (in worker), median of {args.pairs * args.n} each, --jobs {args.jobs}")
        print(f"  before ({args.baseline}) : {figures['before_per_submission_s']:6.2f} s"
              f"   (run wall {figures['before_wall_s']:.1f} s)")
        print(f"  after  (this kit)        : {figures['after_per_submission_s']:6.2f} s"
              f"   (run wall {figures['after_wall_s']:.1f} s)")
        print(f"  after / before           : {figures['per_submission_ratio']:6.2f}x (goal <= 1.15x)")
        if args.out:
            args.out.write_text(json.dumps(figures, indent=1))
        return 0
    if args.quick:
        args.n, args.sizes = 2, ""
    if not (args.root / "release" / ASSIGNMENT / NOTEBOOK).exists():
        print(f"Error: {args.root / 'release' / ASSIGNMENT / NOTEBOOK} not found — run `make release` first", file=sys.stderr)
        return 2
    report: dict[str, object] = {"cores": os.cpu_count(), "n": args.n, "jobs": args.jobs}
    with tempfile.TemporaryDirectory(prefix="ag-bench-") as tmp:
        base = make_course(args.root, Path(tmp) / "compare", args.n)
        seq = Path(tmp) / "sequential"
        shutil.copytree(base, seq, symlinks=True)
        report["floor_s"] = floor_seconds(args.root)
        report["sequential_s"] = run([str(Path(sys.executable).with_name("nbgrader")), "autograde", ASSIGNMENT], seq)
        with MemorySampler() as mem:
            wall, durations = grade_parallel(base, args.jobs)
        report["parallel_s"] = wall
        report["speedup"] = report["sequential_s"] / wall
        report["per_submission_s"] = sum(durations) / len(durations)
        report["per_submission_vs_floor"] = report["per_submission_s"] / report["floor_s"]
        # what a submission costs the batch, start-up and scheduling included: each of the jobs slots
        # is busy for wall x jobs / n seconds per submission
        report["end_to_end_per_submission_s"] = wall * args.jobs / args.n
        report["kernel_peak_rss_mb"] = mem.kernel_peak / 2**20
        report["kernel_peak_uss_mb"] = mem.kernel_uss_peak / 2**20
        report["worker_peak_rss_mb"] = mem.worker_peak / 2**20
        report["worker_peak_uss_mb"] = mem.worker_uss_peak / 2**20
        report["server_peak_rss_mb"] = mem.server_peak / 2**20
        if args.cold:
            cold = make_course(args.root, Path(tmp) / "cold", args.n)
            report["cold_s"], cold_durations = grade_parallel(cold, args.jobs, "--no-warm")
            report["cold_per_submission_s"] = sum(cold_durations) / len(cold_durations)
        growth = {}
        for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
            course = make_course(args.root, Path(tmp) / f"size{size}", size)
            growth[size], _ = grade_parallel(course, args.jobs)
            shutil.rmtree(course, ignore_errors=True)
        report["growth_s"] = growth
    print(f"cores {report['cores']}, {args.n} submissions, --jobs {args.jobs}")
    print(f"sequential nbgrader autograde : {report['sequential_s']:8.1f} s")
    print(f"python -m autograder grade    : {report['parallel_s']:8.1f} s   speed-up {report['speedup']:.2f}x (goal >= 1.7x)")
    print(f"per submission (in worker)    : {report['per_submission_s']:8.1f} s   floor {report['floor_s']:.1f} s "
          f"-> {report['per_submission_vs_floor']:.2f}x (goal <= 2x)")
    print(f"per submission, end to end    : {report['end_to_end_per_submission_s']:8.1f} s   (wall x jobs / n, start-up included)")
    if "cold_s" in report:
        print(f"  same with --no-warm         : {report['cold_s']:8.1f} s   speed-up {report['sequential_s'] / report['cold_s']:.2f}x;"
              f" per submission {report['cold_per_submission_s']:.1f} s")
    print(f"peak memory per kernel        : {report['kernel_peak_rss_mb']:8.0f} MiB RSS, {report['kernel_peak_uss_mb']:.0f} MiB unique")
    print(f"peak memory per worker        : {report['worker_peak_rss_mb']:8.0f} MiB RSS, {report['worker_peak_uss_mb']:.0f} MiB unique;"
          f" fork server {report['server_peak_rss_mb']:.0f} MiB RSS (shared by all)")
    for size, secs in growth.items():
        print(f"{size:5d} submissions           : {secs:8.1f} s  ({secs / size:.1f} s each)")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
