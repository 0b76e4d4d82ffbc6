"""Per-submission cgroups: memory, processes and a fair CPU share (cgroup v2, or v1), and the clean-up of what a
kernel's uid or cgroup leaves behind. Everything here is a no-op without root.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "autograder"


def is_root() -> bool:
    """Whether the full sandbox (uid switch, namespaces, cgroups) is available."""
    return os.geteuid() == 0


class Cgroup:
    """A per-submission cgroup (v2, or v1 memory + pids + cpu); a no-op where cgroups are not writable.

    Besides memory and processes it shares the CPU fairly: every kernel gets the same weight (v2
    ``cpu.weight``, v1 ``cpu.shares``) and a ceiling of its job's threads (cores / parallel jobs: v2
    ``cpu.max``, v1 the CFS quota), so one busy kernel cannot slow the others down. ``cpu`` says what
    applied (:func:`bounds_note` words it for the grading summary).
    """

    #: cgroup v2 ``cpu.weight`` and v1 ``cpu.shares`` of every kernel (equal shares).
    WEIGHT, SHARES = 100, 1024
    PERIOD_US = 100_000

    def __init__(self, name: str) -> None:
        self.name = name
        self.dirs: list[Path] = []
        self.v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
        self.cpu: str | None = None  # "v2" or "v1" once a CPU share and ceiling were set

    def create(self, memory_mb: int, nproc: int, cpus: float | None = None) -> list[str]:
        """Create it with the limits; return the ``cgroup.procs`` files the launcher joins.

        ``cpus``: the kernel's CPU ceiling in cores (its job's threads); None: equal weight, no ceiling.
        """
        if not is_root():
            return []
        try:
            if self.v2:
                parent = CGROUP_ROOT / CGROUP_PARENT
                parent.mkdir(exist_ok=True)
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
                _try_write(CGROUP_ROOT / "cgroup.subtree_control", "+cpu")  # the parent gets it only from its own
                _try_write(parent / "cgroup.subtree_control", "+cpu")
                d = parent / self.name
                d.mkdir(exist_ok=True)
                self.dirs = [d]
                (d / "memory.max").write_text(str(memory_mb * 2**20))
                _try_write(d / "memory.swap.max", "0")
                (d / "pids.max").write_text(str(nproc))
                if (d / "cpu.weight").exists() and _write_all(d, {"cpu.weight": str(self.WEIGHT),
                                                                  "cpu.max": f"{self._quota(cpus)} {self.PERIOD_US}"}):
                    self.cpu = "v2"
            else:
                mem = CGROUP_ROOT / "memory" / CGROUP_PARENT / self.name
                pids = CGROUP_ROOT / "pids" / CGROUP_PARENT / self.name
                cpu = CGROUP_ROOT / "cpu" / CGROUP_PARENT / self.name
                mem.mkdir(parents=True, exist_ok=True)
                self.dirs = [mem]
                (mem / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
                _try_write(mem / "memory.memsw.limit_in_bytes", str(memory_mb * 2**20))
                if pids.parent.parent.exists():
                    pids.mkdir(parents=True, exist_ok=True)
                    (pids / "pids.max").write_text(str(nproc))
                    self.dirs.append(pids)
                if (cpu.parent.parent / "cpu.cfs_quota_us").exists():
                    cpu.mkdir(parents=True, exist_ok=True)
                    quota = self._quota(cpus)
                    if _write_all(cpu, {"cpu.shares": str(self.SHARES), "cpu.cfs_period_us": str(self.PERIOD_US),
                                        "cpu.cfs_quota_us": "-1" if quota == "max" else quota}):
                        self.dirs.append(cpu)
                        self.cpu = "v1"
                    else:  # no CPU share here: memory and processes stay limited
                        kill_cgroup(cpu)
        except OSError:
            self.destroy()
            return []
        return [str(d / "cgroup.procs") for d in self.dirs]

    @classmethod
    def _quota(cls, cpus: float | None) -> str:
        return "max" if not cpus or cpus <= 0 else str(max(1000, int(cpus * cls.PERIOD_US)))

    def cpu_stat(self) -> dict[str, int]:
        """The kernel's CPU accounting (``cpu.stat``: ``nr_periods``, ``nr_throttled``, ...); empty without one."""
        for d in self.dirs:
            try:
                lines = (d / "cpu.stat").read_text().splitlines()
            except OSError:
                continue
            return {k: int(v) for k, _, v in (ln.partition(" ") for ln in lines) if v.strip().isdigit()}
        return {}

    def oom_killed(self) -> bool:
        """Whether the kernel hit the memory limit and something was killed."""
        for d in self.dirs:
            for fname, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                try:
                    for line in (d / fname).read_text().splitlines():
                        k, _, v = line.partition(" ")
                        if k == key and int(v) > 0:
                            return True
                except (OSError, ValueError):
                    pass
        return False

    def destroy(self) -> None:
        """Kill everything left in it and remove it."""
        for d in self.dirs:
            kill_cgroup(d)
        self.dirs = []


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write_all(folder: Path, values: dict[str, str]) -> bool:
    """Write each file of ``folder``; False at the first that cannot be written."""
    try:
        for name, text in values.items():
            (folder / name).write_text(text)
    except OSError:
        return False
    return True


def _try_write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError:
        pass


def kill_cgroup(d: Path, wait_s: float = 5.0) -> None:
    """SIGKILL every process in cgroup folder ``d``, then remove it (bounded wait)."""
    deadline = time.monotonic() + wait_s
    while d.exists() and time.monotonic() < deadline:
        try:
            pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            d.rmdir()
            return
        except OSError:
            time.sleep(0.05)


def kill_uid(uid: int) -> int:
    """SIGKILL every process whose real uid is ``uid`` (a sandbox uid, never a person's)."""
    if not is_root() or uid < 1000:
        return 0
    killed = 0
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == uid:
                proc.kill()
                killed += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return killed


def cgroup_parents() -> list[Path]:
    """The folders that hold the per-submission cgroups (v2: one; v1: memory, pids and cpu) that exist now."""
    candidates = (CGROUP_ROOT / CGROUP_PARENT, CGROUP_ROOT / "memory" / CGROUP_PARENT, CGROUP_ROOT / "pids" / CGROUP_PARENT,
                  CGROUP_ROOT / "cpu" / CGROUP_PARENT)
    return [parent for parent in candidates if parent.is_dir()]


def sweep_stale_cgroups() -> None:
    """Remove cgroups left by an autograder run that was killed (its pid no longer runs)."""
    if not is_root():
        return
    for parent in cgroup_parents():
        for d in parent.iterdir():
            if not d.is_dir():
                continue
            owner = d.name.split("-", 1)[0]
            if owner.isdigit() and not psutil.pid_exists(int(owner)):
                kill_cgroup(d)
