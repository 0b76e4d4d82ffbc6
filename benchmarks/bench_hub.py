"""The course hub on one machine under a class's load: N students log in, spawn, fetch and submit at once.

One run (root; a released copy of the ``unet`` course in a fresh folder under /tmp):

1. ``python -m autograder hub`` starts (first start: accounts, the seat interpreter, the hub): its start time;
2. the instructor releases ``unet`` from the Formgrader (its API, as its button does);
3. N students at once (one thread each, N bounded) log in through the login form, spawn their server, fetch and
   submit through their server's Assignment List API (no kernel runs): each spawn's time (p50, p95); the hub's and
   the proxy's resident memory, sampled (bounded) while they work;
4. the Formgrader collects, then ``python -m autograder grade`` grades the collected submissions: the time, and
   submissions lost (submitted but not graded; goal 0).

    PATH=.venv/bin:$PATH .venv/bin/python benchmarks/bench_hub.py --n 20 [--out hub.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "autograder" / "platforms" / "hub"))
import hub_env  # noqa: E402  (the tests' hub helper: start, stop, login client)

ASSIGNMENT = "unet"
MAX_STUDENTS = 100
SAMPLE_S = 0.5
SAMPLES_MAX = 20_000


def released_course(folder: Path) -> Path:
    """A course at ``folder/released`` with ``unet`` released by the kit (no verification)."""
    from autograder.course import scratch
    from autograder.instructor import release

    dest = folder / "released"
    scratch.build(dest, origin=REPO, assignment=ASSIGNMENT, source="all", data=True)
    release.run(root=dest, assignments=[ASSIGNMENT], verify=False)
    return dest


def _rss_mb(pattern: str) -> float:
    total = 0
    for proc in psutil.process_iter(["cmdline", "memory_info"]):
        try:
            if pattern in " ".join(proc.info["cmdline"] or []) and proc.info["memory_info"] is not None:
                total += proc.info["memory_info"].rss
        except psutil.Error:
            continue
    return total / 2**20


class Sampler(threading.Thread):
    """Peak resident memory of the hub and of the proxy, sampled every SAMPLE_S seconds (bounded)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak = {"hub": 0.0, "proxy": 0.0}

    def run(self) -> None:
        for _ in range(SAMPLES_MAX):
            if self.stop.is_set():
                return
            self.peak["hub"] = max(self.peak["hub"], _rss_mb("bin/jupyterhub -f"))
            self.peak["proxy"] = max(self.peak["proxy"], _rss_mb("configurable-http-proxy"))
            time.sleep(SAMPLE_S)


def student_session(hub: hub_env.Hub, student: str) -> dict:
    """One student: log in, spawn (timed), fetch, submit. Errors become the row's status, never an abort."""
    row = {"student": student, "status": "ok"}
    try:
        client = hub_env.Client(hub, student)
        t0 = time.monotonic()
        client.server()
        row["spawn_s"] = time.monotonic() - t0
        client.nbgrader("fetch", ASSIGNMENT)
        client.nbgrader("submit", ASSIGNMENT)
    except Exception as exc:  # noqa: BLE001 - one student's failure is a row
        row["status"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report (and JSON with --out)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20, help=f"students at once (at most {MAX_STUDENTS})")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("Error: the hub makes Unix accounts: run the benchmark as root", file=sys.stderr)
        return 2
    n = max(1, min(args.n, MAX_STUDENTS))
    load = os.getloadavg()
    tag = uuid.uuid4().hex[:4]
    folder = hub_env.new_folder()
    students = [f"hb{tag}s{i:03d}" for i in range(n)]
    hub = hub_env.Hub(base=f"http://127.0.0.1:{hub_env.free_ports()}", folder=folder, course=folder / "course",
                      state=folder / "state", exchange=folder / "exchange", course_id="unet-course",
                      instructor=f"hb{tag}i", assistant=f"hb{tag}a", students=students)
    sampler = Sampler()
    try:
        hub_env.make_course(folder, released_course(folder), instructor=hub.instructor, assistant=hub.assistant)
        roster = folder / "roster.csv"
        roster.write_text("student_id\n" + "".join(f"{s}\n" for s in students), encoding="utf-8")
        t0 = time.monotonic()
        hub_env.start(hub, roster)
        start_s = time.monotonic() - t0
        sampler.start()
        instructor = hub_env.Client(hub, hub.instructor)
        instructor.formgrader()
        instructor.api(f"assignment/{ASSIGNMENT}/release")
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as pool:
            rows = list(pool.map(lambda s: student_session(hub, s), students))
        class_s = time.monotonic() - t0
        sampler.stop.set()
        sampler.join(timeout=10)
        submitted = sum(1 for r in rows if r["status"] == "ok")
        instructor.api(f"assignment/{ASSIGNMENT}/collect")
        collected = sorted(p.name for p in (hub.course / "submitted").iterdir()) if (hub.course / "submitted").is_dir() else []
        t0 = time.monotonic()
        graded = subprocess.run([sys.executable, "-m", "autograder", "--root", str(hub.course), "grade", ASSIGNMENT,
                                 "--no-progress"], capture_output=True, text=True, timeout=3600)
        grade_s = time.monotonic() - t0
        grades = (hub.course / "grades.csv").read_text(encoding="utf-8").splitlines()[1:] \
            if (hub.course / "grades.csv").exists() else []
        spawns = sorted(r["spawn_s"] for r in rows if "spawn_s" in r)
        figures = {
            "students": n, "load_at_start": [round(x, 2) for x in load], "hub_start_s": round(start_s, 1),
            "spawn_p50_s": round(statistics.median(spawns), 1) if spawns else None,
            "spawn_p95_s": round(spawns[min(len(spawns) - 1, int(0.95 * len(spawns)))], 1) if spawns else None,
            "class_s": round(class_s, 1), "hub_rss_peak_mb": round(sampler.peak["hub"]),
            "proxy_rss_peak_mb": round(sampler.peak["proxy"]), "submitted": submitted, "collected": len(collected),
            "graded": len(grades), "grade_s": round(grade_s, 1), "grade_exit": graded.returncode,
            "lost": submitted - len(grades), "failed_students": [r for r in rows if r["status"] != "ok"][:5],
        }
    finally:
        sampler.stop.set()
        hub_env.stop(hub)
        hub_env.remove_accounts([*hub.everyone(), hub.grader])
        subprocess.run(["rm", "-rf", str(folder)], check=False)
    print(f"course hub, {n} students at once on {os.cpu_count()} cores (load at start "
          f"{figures['load_at_start'][0]}):")
    print(f"  hub start {figures['hub_start_s']} s (accounts, seat interpreter, hub); spawn p50 "
          f"{figures['spawn_p50_s']} s, p95 {figures['spawn_p95_s']} s; the class's log-in to submit {figures['class_s']} s")
    print(f"  memory: hub {figures['hub_rss_peak_mb']} MiB, proxy {figures['proxy_rss_peak_mb']} MiB (peak RSS)")
    print(f"  submitted {figures['submitted']}, collected {figures['collected']}, graded {figures['graded']} in "
          f"{figures['grade_s']} s; lost {figures['lost']}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if figures["lost"] == 0 and not figures["failed_students"] else 1


if __name__ == "__main__":
    sys.exit(main())
