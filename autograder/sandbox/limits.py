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
import functools
import json
import os
import re
import tempfile
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from autograder.contracts.job import Policy
from autograder.sandbox import boxfs
from autograder.sandbox.cgroups import (CGROUP_PARENT, CGROUP_ROOT, Cgroup, _read, cgroup_parents, is_root,  # noqa: F401
                                        kill_cgroup, kill_uid, sweep_stale_cgroups)

LAUNCHER = Path(__file__).with_name("launch.py")
KERNEL_NAME = "autograder-sandbox"
#: In a grading container, besides the autograder package and the course's private files: what only the
#: grader reads (the launcher refuses to start a kernel that could read any of it).
GRADER_ONLY = ["/opt/course/source", "/opt/course/gradebook.db", "/opt/course/references", "/opt/course/release",
               "/opt/course/nbgrader_config.py"]
#: Course-root entries that are the grader's alone.
COURSE_PRIVATE = ["gradebook.db", "source", "references", "submitted", "autograded", "feedback", "nbgrader_config.py", ".git"]
ENV_DROP = r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|COOKIE|^PG|DATABASE|DB_URL|^AWS_|^GOOGLE_|^AZURE_|^SSH_|^GIT|^JPY_|^JUPYTER_|^KAGGLE"
#: Variables that cap the numeric libraries' threads (one kernel must not take every core).
THREAD_ENV = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: The only variables of the grader's environment a kernel gets (whole names; ``ENV_DROP`` still applies): the
#: locale, the terminal, Python's and the kit's own settings (``UNET_*``, nbgrader's ``NBGRADER_EXECUTION``),
#: TensorFlow/CUDA/XLA settings and the numeric libraries' threads. Everything else (``MY_COURSE_PATH``, a
#: cloud key, a database address) never reaches student code; the policy's ``env_set`` adds HOME and the like.
ENV_KEEP = (r"PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TERM|COLUMNS|LINES|NO_COLOR|FORCE_COLOR|PYTHON[A-Z0-9_]*|"
            r"UNET_[A-Z0-9_]+|NBGRADER_[A-Z_]+|MPLBACKEND|TF_[A-Z0-9_]+|CUDA_[A-Z0-9_]+|XLA_FLAGS|KERAS_BACKEND|"
            r"LD_LIBRARY_PATH|OMP_[A-Z_]+|MKL_[A-Z_]+|OPENBLAS_[A-Z_]+|KMP_[A-Z_]+")


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


@functools.lru_cache(maxsize=8)
def _usable_gpus(dev_dir: str) -> tuple[int, ...]:
    """The numbers N of the ``dev_dir/nvidia<N>`` this process can open (a SLURM job's cgroup may forbid some)."""
    try:
        names = os.listdir(dev_dir)
    except OSError:
        return ()
    usable = []
    for number in sorted(int(n[6:]) for n in names if re.fullmatch(r"nvidia\d+", n)):
        try:
            os.close(os.open(os.path.join(dev_dir, f"nvidia{number}"), os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK))
        except OSError:
            continue
        usable.append(number)
    return tuple(usable)


def slot_gpus(slot: int, dev_dir: str = "/dev") -> list[int]:
    """The GPU a kernel of ``slot`` gets when the caller names none: the machine's cards round-robin by slot
    (slot 0: the first, slot 1: the second, ...), so that every kernel on a GPU machine has one; none without."""
    usable = _usable_gpus(dev_dir)
    return [usable[slot % len(usable)]] if usable else []


def policy(*, limits: Limits, slot: int, box: Path, cgroup_procs: list[str], course_root: Path | None = None,
           threads: int | None = None, uid: int | None = None, confine: bool = True,
           gpus: list[int] | None = None) -> Policy:
    """The launcher's policy for one kernel (see :mod:`autograder.sandbox.launch`).

    The kernel's view is ``ro`` + ``rw`` and nothing else: the Python installation, the kit's student
    packages and the dataset (:func:`kit_paths`), the course root's ``limits.allow`` entries, read-only;
    its ``box``, read-write. ``uid``: the kernel's uid as root (claimed with :class:`UidClaims`;
    ``uid_base + slot`` when not given). ``threads``: CPU threads the kernel's numeric libraries may use
    (cores / parallel jobs). ``confine=False`` (``--no-sandbox``): rlimits and a clean environment only.
    ``gpus``: the ``/dev/nvidia<N>`` the kernel gets (default: :func:`slot_gpus`, one card per slot round-robin).
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
        env_keep=ENV_KEEP,
        gpus=slot_gpus(slot) if gpus is None else list(gpus),
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


def kernel_env(env: dict[str, str], *, only_allowed: bool = False) -> dict[str, str]:
    """``env`` without anything that looks like a secret (``ENV_DROP``: the base of the fork server's and a
    worker's environment); ``only_allowed``: also without anything ``ENV_KEEP`` does not name (a kernel's)."""
    from autograder.sandbox.launch import scrub

    return scrub(env, ENV_DROP, ENV_KEEP if only_allowed else None)


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
    """The kernel's own folders (work dir, home, tmp, ipc sockets), owned by its uid (as root).

    Made link-safe (:mod:`autograder.sandbox.boxfs`): a link the kernel left in the box is replaced, never
    followed. The box's size bound (a tmpfs) is mounted by the worker, see :func:`boxfs.mount_private`.
    """
    boxfs.make_folders(box, uid)


def write_kernelspec(jupyter_dir: Path, policy_file: Path) -> None:
    """A kernelspec whose command is the launcher wrapped around ipykernel."""
    spec = jupyter_dir / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-I", str(LAUNCHER), str(policy_file), "--",
            sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (autograder sandbox)", "language": "python",
         "interrupt_mode": "signal"}))


def bounds_note(parallel: int, confine: bool = True, container: bool = False) -> str:
    """How the CPU is shared and the box bounded between this run's kernels, in words (the grading summary)."""
    threads = threads_per_job(parallel)
    if container:
        return f"CPU: {threads} core(s) per grading container (docker --cpus); box: the container's own disk bound"
    if not confine:
        return f"CPU: {threads} thread(s) per kernel, no cgroup (--no-sandbox); box: no size bound"
    if not is_root():
        return (f"CPU: {threads} thread(s) per kernel by its libraries' thread settings only (not root: no cgroup "
                f"share or ceiling can be set); box: no size bound, only each file's (RLIMIT_FSIZE)")
    v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
    if v2 and "cpu" in _read(CGROUP_ROOT / CGROUP_PARENT / "cgroup.subtree_control").split():
        cpu = f"cgroup v2 cpu.weight {Cgroup.WEIGHT} and cpu.max of {threads} core(s) per kernel"
    elif not v2 and (CGROUP_ROOT / "cpu" / "cpu.cfs_quota_us").exists():
        cpu = f"cgroup v1 cpu.shares {Cgroup.SHARES} and a CFS quota of {threads} core(s) per kernel"
    else:
        cpu = f"{threads} thread(s) per kernel, no cgroup CPU controller on this machine"
    return f"CPU: {cpu}; box: a tmpfs of tmp_size_mb per submission"
