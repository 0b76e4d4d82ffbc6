"""Containment of one submission's kernel: limits, the launcher policy, cgroups and clean-up.

The kernel of each submission runs through :mod:`autograder.sandbox.launch` (a Jupyter
kernelspec whose command is the launcher). When the autograder runs as root, the kernel gets:

- its own unprivileged uid (from ``uid_base`` up, claimed with a lock file so that two grading runs on
  one machine never share one), so RLIMIT_NPROC counts only its processes and other kernels' scratch
  folders (0700, another uid) are out of reach;
- a cgroup (v1 or v2) limiting its memory and process count; an OOM kill is reported as ``memory``;
- no network (a new, empty network namespace: not even loopback);
- an allow-list view of the files (:func:`policy`'s ``ro`` and ``rw``, built by the launcher into an
  empty root): the Python installation, the kit's student packages, the dataset, the system
  folders, its own box; nothing else of the machine exists for it;
- its own PID namespace (it sees no other process; everything it starts dies with it);
- rlimits: address space, processes, file size, CPU seconds, open files, no core dumps.

Without root the same view is built in a user namespace (the kernel keeps the instructor's uid but
sees none of the instructor's files); :mod:`autograder.sandbox.probe` says, before any student code runs, whether
this machine can do it.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from autograder.contracts.job import Policy

LAUNCHER = Path(__file__).with_name("launch.py")
KERNEL_NAME = "autograder-sandbox"
#: In a grading container, besides the autograder package and the course's private files: what only the
#: grader reads (the launcher refuses to start a kernel that could read any of it).
GRADER_ONLY = ["/opt/course/source", "/opt/course/gradebook.db"]
#: Course-root entries that are the grader's alone.
COURSE_PRIVATE = ["gradebook.db", "source", "references", "submitted", "autograded", "feedback", "nbgrader_config.py", ".git"]
ENV_DROP = r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|COOKIE|^PG|DATABASE|DB_URL|^AWS_|^GOOGLE_|^AZURE_|^SSH_|^GIT|^JPY_|^JUPYTER_|^KAGGLE"
#: Variables that cap the numeric libraries' threads (one kernel must not take every core).
THREAD_ENV = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "autograder"


@dataclass
class Limits:
    """Per-submission limits. The course's settings give the first eight (:class:`autograder.course.settings.Autograder`
    holds their defaults and says why); the rest are fixed bounds on what a submission may write.
    """

    cell_timeout: float
    submission_timeout: float
    memory_mb: int
    address_space_mb: int
    nproc: int
    tmp_size_mb: int
    uid_base: int
    allow: list[str]  # course-root entries the kernel may read (read-only, where they exist)
    fsize_mb: int = 1024
    nofile: int = 4096
    max_notebook_mb: int = 64
    max_output_bytes: int = 2 * 2**20

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


def is_root() -> bool:
    """Whether the full sandbox (uid switch, namespaces, cgroups) is available."""
    return os.geteuid() == 0


def uid_lock_folder() -> Path:
    """Where root's grading runs claim sandbox uids: one folder per machine (a container shares it only when
    mounted). Runs without root claim no uid (their kernels keep the instructor's, in a user namespace)."""
    return Path(tempfile.gettempdir()) / "unet-grader-uids"


class UidClaims:
    """The sandbox uids of one grading run, one per slot, each held through an exclusive lock file.

    Two runs on one machine (two instructors, a benchmark beside a test) must not share a uid: each
    run kills whatever its kernel's uid still runs when a submission ends. A slot claims the first uid
    from ``base`` whose lock no other process holds, and keeps it until :meth:`release` (or its exit).
    """

    def __init__(self, base: int, folder: Path | None = None, span: int = 4096) -> None:
        self.base, self.span = base, span
        self.folder = folder or uid_lock_folder()
        self._held: dict[int, tuple[int, int]] = {}  # slot -> (uid, lock fd)

    def uid(self, slot: int) -> int:
        """The uid of ``slot``, claimed on first use."""
        if slot in self._held:
            return self._held[slot][0]
        self.folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        taken = {uid for uid, _ in self._held.values()}
        for uid in range(self.base, self.base + self.span):
            if uid in taken:
                continue
            fd = os.open(self.folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self._held[slot] = (uid, fd)
            return uid
        raise RuntimeError(f"no free sandbox uid in {self.base}..{self.base + self.span - 1} "
                           f"(locks in {self.folder}); are that many grading runs going on?")

    def release(self) -> None:
        """Give every claimed uid back."""
        for _, fd in self._held.values():
            os.close(fd)
        self._held.clear()


def policy(*, limits: Limits, slot: int, box: Path, cgroup_procs: list[str], course_root: Path | None = None,
           threads: int | None = None, uid: int | None = None, confine: bool = True) -> Policy:
    """The launcher's policy for one kernel (see :mod:`autograder.sandbox.launch`).

    The kernel's view is ``ro`` + ``rw`` and nothing else: the Python installation, the kit's student
    packages and the dataset (:func:`kit_paths`), the course root's ``limits.allow`` entries, read-only;
    its ``box``, read-write. ``uid``: the kernel's uid as root (claimed with :class:`UidClaims`;
    ``uid_base + slot`` when not given). ``threads``: CPU threads the kernel's numeric libraries may use
    (cores / parallel jobs). ``confine=False`` (``--no-sandbox``): rlimits and a clean environment only.
    """
    uid = limits.uid_base + slot if uid is None else uid
    ro = sorted({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), *kit_paths(), *site_packages(),
                 *(os.path.realpath(course_root / a) for a in (limits.allow if course_root else [])
                   if a and "/" not in a and a not in (".", "..") and os.path.exists(course_root / a))})
    cpu = int(limits.submission_timeout * (os.cpu_count() or 1)) + 60
    return Policy(
        uid=uid, gid=uid,
        workdir=str(box / "work"),
        ro=ro, rw=[str(box)],
        grader_only=grader_only(course_root),
        in_container=os.environ.get("AUTOGRADER_CONTAINER") == "1",
        private_tmp=["/tmp", "/var/tmp", "/dev/shm"],
        tmp_size_mb=limits.tmp_size_mb,
        cgroup_procs=cgroup_procs,
        rlimits={
            "AS": limits.address_space_mb * 2**20, "NPROC": limits.nproc, "FSIZE": limits.fsize_mb * 2**20,
            "CPU": cpu, "NOFILE": limits.nofile, "CORE": 0,
        },
        env_drop=ENV_DROP,
        env_set={
            "HOME": str(box / "home"), "USER": "student", "LOGNAME": "student",
            "TMPDIR": "/tmp" if confine else str(box / "tmp"),
            "IPYTHONDIR": str(box / "home" / ".ipython"), "MPLCONFIGDIR": str(box / "home" / ".mpl"),
            "XDG_CACHE_HOME": str(box / "home" / ".cache"), "XDG_RUNTIME_DIR": str(box / "run"),
            "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg",
            **({k: str(threads) for k in THREAD_ENV} if threads else {}),
        },
        confine=confine,
    )


def grader_only(course_root: Path | None) -> list[str]:
    """What a kernel in a grading container must not be able to read: the autograder package (the judge and
    its references), the course's gradebook, sources and submissions."""
    package = Path(__file__).resolve().parents[1]
    course = [str(course_root / name) for name in COURSE_PRIVATE] if course_root else []
    return sorted({str(package), *course, *GRADER_ONLY})


def kernel_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without anything that looks like a secret (the base of a kernel's environment)."""
    from autograder.sandbox.launch import scrub

    return scrub(env, ENV_DROP)


def threads_per_job(parallel: int) -> int:
    """The cores one of ``parallel`` concurrent jobs may use (at least one)."""
    return max(1, (os.cpu_count() or 1) // max(1, parallel))


def site_packages() -> list[str]:
    """The installed-package folders on this interpreter's path (also those a ``.pth`` file adds), never the
    folders of plain source trees."""
    return sorted({os.path.realpath(p) for p in sys.path
                   if os.path.basename(p) in ("site-packages", "dist-packages") and os.path.isdir(p)})


def pth_folders() -> list[str]:
    """Folders the installation's ``.pth`` files put on the path (the grading image's ``/opt/kit``): a fresh
    interpreter searches them, so a warm kernel keeps them on its path. Never bound for the kernel by this alone."""
    found = set()
    for site in site_packages():
        try:
            names = sorted(n for n in os.listdir(site) if n.endswith(".pth"))
        except OSError:
            continue
        for name in names:
            try:
                lines = Path(site, name).read_text(errors="replace").splitlines()[:100]
            except OSError:
                continue
            for line in (ln.strip() for ln in lines):
                if line and not line.startswith(("#", "import ", "import\t")):
                    folder = os.path.join(site, line)
                    if os.path.isdir(folder):
                        found.add(os.path.realpath(folder))
    return sorted(found)


def kit_paths() -> list[str]:
    """Folders a notebook needs besides Python itself: the kit's packages and the dataset.

    They are bound back into the kernel's view, so grading works wherever the kit lives, also under
    ``/tmp``, which the kernel gets fresh and empty.
    """
    import importlib.util

    paths = []
    for package in ("test_utils", "data_fetch"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            paths.extend(os.path.realpath(p) for p in spec.submodule_search_locations)
    data = os.environ.get("UNET_DATA_DIR")
    if data is None and paths:
        data = os.path.join(os.path.dirname(paths[-1]), "data")  # <kit root>/data, beside data_fetch/
    if data and os.path.isdir(data):
        paths.append(os.path.realpath(data))
    return sorted(set(paths))


def make_box(box: Path, uid: int) -> None:
    """The kernel's own folders (work dir, home, tmp, ipc sockets), owned by its uid."""
    for sub in ("", "work", "home", "tmp", "run"):
        (box / sub).mkdir(mode=0o700, exist_ok=True)
        if is_root():
            os.chown(box / sub, uid, uid)


def write_kernelspec(jupyter_dir: Path, policy_file: Path) -> None:
    """A kernelspec whose command is the launcher wrapped around ipykernel."""
    spec = jupyter_dir / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-I", str(LAUNCHER), str(policy_file), "--",
            sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (autograder sandbox)", "language": "python",
         "interrupt_mode": "signal"}))


class Cgroup:
    """A per-submission cgroup (v2, or v1 memory + pids); a no-op where cgroups are not writable."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dirs: list[Path] = []
        self.v2 = (CGROUP_ROOT / "cgroup.controllers").exists()

    def create(self, memory_mb: int, nproc: int) -> list[str]:
        """Create it with the limits; return the ``cgroup.procs`` files the launcher joins."""
        if not is_root():
            return []
        try:
            if self.v2:
                parent = CGROUP_ROOT / CGROUP_PARENT
                parent.mkdir(exist_ok=True)
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
                d = parent / self.name
                d.mkdir(exist_ok=True)
                self.dirs = [d]
                (d / "memory.max").write_text(str(memory_mb * 2**20))
                _try_write(d / "memory.swap.max", "0")
                (d / "pids.max").write_text(str(nproc))
            else:
                mem = CGROUP_ROOT / "memory" / CGROUP_PARENT / self.name
                pids = CGROUP_ROOT / "pids" / CGROUP_PARENT / self.name
                mem.mkdir(parents=True, exist_ok=True)
                self.dirs = [mem]
                (mem / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
                _try_write(mem / "memory.memsw.limit_in_bytes", str(memory_mb * 2**20))
                if pids.parent.parent.exists():
                    pids.mkdir(parents=True, exist_ok=True)
                    (pids / "pids.max").write_text(str(nproc))
                    self.dirs.append(pids)
        except OSError:
            self.destroy()
            return []
        return [str(d / "cgroup.procs") for d in self.dirs]

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
    """The folders that hold the per-submission cgroups (v2: one; v1: memory and pids) that exist now."""
    candidates = (CGROUP_ROOT / CGROUP_PARENT, CGROUP_ROOT / "memory" / CGROUP_PARENT, CGROUP_ROOT / "pids" / CGROUP_PARENT)
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
