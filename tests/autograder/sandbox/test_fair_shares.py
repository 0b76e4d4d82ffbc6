"""Fair shares between kernels: a CPU ceiling per kernel, outputs capped while they arrive, a bounded box.

Behaviour only (the suite must not depend on machine load): the timing side is
``benchmarks/bench_fair_shares.py``.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import psutil
import pytest
import toy

from autograder.course.directory import Course
from autograder.course.settings import Autograder
from autograder.host import grade
from autograder.sandbox import limits as sandbox

BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6:\n    pass\nprint('SPUN')"
FLOOD = "for _ in range(3200):\n    print('x' * 2**16)\n"  # 200 MB of output, printed in a loop of 64 KiB lines
FILL_BOX = """
import errno
written = 0
try:
    with open('filler.bin', 'wb') as fh:
        for _ in range(1024):
            fh.write(b'x' * 2**20)
            written += 2**20
except OSError as exc:
    print('DISK', errno.errorcode.get(exc.errno), written // 2**20)
"""
BOX_MB = 64
#: The worker's peak resident memory may not exceed this. Without the cap the worker holds every byte of the flood
#: and grows without bound; with it, what remains is zmq's receive queue (up to its high-water mark of messages, each
#: under MAXMSGSIZE): 122 MB measured on a quiet machine, 793 MiB once under the full suite's load on 2 cores.
WORKER_PEAK_MB = 1024


def _cpu_controller() -> bool:
    root = sandbox.CGROUP_ROOT
    if (root / "cgroup.controllers").exists():
        return "cpu" in (root / "cgroup.controllers").read_text().split()
    return (root / "cpu" / "cpu.cfs_quota_us").exists()


@pytest.mark.skipif(not sandbox.is_root() or not _cpu_controller(), reason="needs root and a cgroup CPU controller")
def test_each_kernel_gets_an_equal_weight_and_a_ceiling_that_throttles_a_busy_loop(tmp_path: Path) -> None:
    jobs = sandbox.Cgroup(f"{os.getpid()}-share-test")
    try:
        jobs.create(256, 64, cpus=sandbox.threads_per_job(2))  # a job of two, as grade --jobs 2 makes them
        assert jobs.cpu in ("v1", "v2")
        quota = str(sandbox.threads_per_job(2) * sandbox.Cgroup.PERIOD_US)
        if jobs.cpu == "v2":
            assert (jobs.dirs[0] / "cpu.max").read_text().split() == [quota, str(sandbox.Cgroup.PERIOD_US)]
            assert (jobs.dirs[0] / "cpu.weight").read_text().strip() == str(sandbox.Cgroup.WEIGHT)
        else:
            cpu = next(d for d in jobs.dirs if (d / "cpu.cfs_quota_us").exists())
            assert (cpu / "cpu.cfs_quota_us").read_text().strip() == quota
            assert (cpu / "cpu.shares").read_text().strip() == str(sandbox.Cgroup.SHARES)
    finally:
        jobs.destroy()
    # a confined busy loop under a ceiling of a fifth of a core is throttled, whatever else the machine does
    group = sandbox.Cgroup(f"{os.getpid()}-busy-test")
    try:
        procs = group.create(256, 64, cpus=0.2)
        uid = 63996
        box = tmp_path / "box"
        sandbox.make_box(box, uid)
        rules = sandbox.policy(limits=Autograder().limits(), slot=0, box=box, cgroup_procs=procs, uid=uid)
        rules.write(tmp_path / "policy.json")
        done = subprocess.run([sys.executable, "-I", str(sandbox.LAUNCHER), str(tmp_path / "policy.json"), "--",
                               sys.executable, "-I", "-c", BUSY], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "SPUN" in done.stdout, done.stderr
        stat = group.cpu_stat()
        assert stat.get("nr_throttled", 0) > 0, stat
    finally:
        group.destroy()


class _PeakRss:
    """The highest resident memory (VmHWM) of any grading worker process, sampled while a run goes on."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "_PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            for proc in psutil.process_iter(["cmdline"]):
                if "autograder.run.worker" in " ".join(proc.info["cmdline"] or []):
                    try:
                        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                            if line.startswith("VmHWM:"):
                                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                    except (OSError, ValueError):
                        pass


def _outputs(course: Path, student: str) -> str:
    nb = nbformat.read(course / "autograded" / student / "toy" / "toy.ipynb", as_version=4)
    return "".join(str(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_a_flood_of_output_and_a_full_box_stay_with_their_submission(course: Path, small_limits: sandbox.Limits,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sq, add = toy.CORRECT["square"], toy.CORRECT["add"]
    toy.submit(course, "honest_a", toy.CORRECT)
    toy.submit(course, "flooder", {"square": FLOOD + sq, "add": add})
    toy.submit(course, "honest_b", {"square": sq, "add": "def add(a, b):\n    return a - b"})
    toy.submit(course, "filler", {"square": sq + FILL_BOX, "add": add})
    # 2 GiB for each kernel (the default is 4): in 768 MiB the flooding kernel's own output buffers kill it for memory
    # before the worker has seen the cap's worth of its output (the row then says `memory`, also a contained outcome)
    limits = dataclasses.replace(small_limits, tmp_size_mb=BOX_MB, memory_mb=2048)
    with _PeakRss() as rss:
        rows = grade.run(course=Course.open(course), assignment="toy", jobs=2, limits=limits, progress=False,
                         plot=False, warm=False)
    got = {r["student_id"]: (r["status"], float(r["score"])) for r in rows}
    assert got["honest_a"] == ("graded", 6.0) and got["honest_b"] == ("graded", 2.0), got
    assert got["flooder"][0] == "huge_output", rows
    assert "Output truncated by the autograder" in _outputs(course, "flooder")
    assert len(_outputs(course, "flooder")) <= limits.max_output_bytes + 1000
    summary = capsys.readouterr().out
    assert "CPU: " in summary and "box: " in summary
    print(f"worker peak RSS: {rss.peak_kb // 1024} MiB")
    assert 0 < rss.peak_kb < WORKER_PEAK_MB * 1024, f"a worker grew to {rss.peak_kb // 1024} MiB"
    # the box is a tmpfs of the kernel's tmp size as root: the filler fills it, not the machine's disk
    if sandbox.is_root():
        assert got["filler"] == ("disk_full", 6.0), rows
        disk = _outputs(course, "filler").split("DISK ")[1].split()
        assert disk[0] == "ENOSPC" and int(disk[1]) <= BOX_MB, disk
