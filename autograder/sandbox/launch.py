"""Kernel launcher: confines itself, then becomes the student's IPython kernel (exec).

Jupyter starts it as the kernel command::

    python -I launch.py POLICY.json -- python -m ipykernel_launcher -f CONNECTION_FILE

Standard library only, so it runs before any student code and imports nothing from the course.
The warm kernels of :mod:`autograder.run.warm` call the same :func:`confine` in-process.

The view is an **allow-list by construction**: the kernel's root is a new, empty tmpfs into which
only the policy's paths are bound (``ro``: the Python installation, the virtual environment, the
kit's student packages, the dataset, the system folders; ``rw``: the kernel's own box), at the same
places, every mount ``nosuid,nodev`` and the read-only ones read-only all the way down (their submounts
too); ``/tmp``, ``/var/tmp``, ``/dev/shm`` are fresh; ``/dev`` holds six devices and the nodes of the GPUs
the policy names (``gpus``, with ``CUDA_VISIBLE_DEVICES`` to match); ``/proc`` belongs to a new PID
namespace, with ``/proc/sys`` read-only and the machine's keys, timers, interrupts, buses and memory
masked, as Docker does; ``/etc`` holds a few files and a ``passwd`` naming only the student. Nothing
else exists for the kernel: no course root, no home folder, no other project, no host socket.
Also: no network (a new, empty network namespace), its own IPC, UTS and cgroup namespaces, no
capabilities, ``no_new_privs``, rlimits, an environment built from an allow-list (``env_keep``) and a
system-call filter (:mod:`syscalls`, loaded last: no nested namespaces, keyrings, io_uring, eBPF, perf,
userfaultfd, ptrace, mounts, modules...).

As root the kernel then runs under its own unprivileged uid (and cgroups); without root the same
view is built inside a user namespace (the kernel keeps the instructor's uid, mapped, but sees none
of the instructor's files). The process Jupyter knows stays outside as a small waiter that forwards
interrupts and dies with its parent; the kernel is PID 1 of its namespace, so everything it started dies
with it, and it dies with the waiter.

In a grading container run as root (``in_container``: Docker, Kubernetes, Gradescope), where no
namespace can be made, the container is the outer box: the launcher drops to the kernel's uid and
refuses to start when any of the policy's ``grader_only`` paths is readable by that uid (the system-call
filter and the environment's allow-list apply there too). An image run
as an ordinary user (Apptainer on a cluster) gets the allow-list view like any other non-root run. Every failure to confine is fatal (exit 3, one line on
stderr, no student code run); only a policy with ``confine: false`` (``--no-sandbox``) skips it.
"""
from __future__ import annotations

import ctypes
import json
import os
import platform
import re
import resource
import select
import signal
import sys



def _sibling(name: str):  # type: ignore[no-untyped-def]
    """A stdlib-only module beside this file: imported with the package (warm kernels), else loaded by path (run as
    ``python -I launch.py``: no package, no script folder on the path)."""
    if __package__:
        import importlib
        return importlib.import_module(f"{__package__}.{name}")
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"_autograder_{name}", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                                    f"{name}.py"))
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


syscalls = _sibling("syscalls")
view = _sibling("view")
SandboxError, _check, _libc, _syscall, _dev, build_root = (view.SandboxError, view._check, view._libc, view._syscall,
                                                           view._dev, view.build_root)
NVIDIA_DRIVER = view.NVIDIA_DRIVER

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
EXIT_UNCONFINED = 3

RLIMITS = {
    "AS": resource.RLIMIT_AS, "NPROC": resource.RLIMIT_NPROC, "FSIZE": resource.RLIMIT_FSIZE,
    "CPU": resource.RLIMIT_CPU, "NOFILE": resource.RLIMIT_NOFILE, "CORE": resource.RLIMIT_CORE,
}


def _unshare(flags: int, what: str) -> None:
    """unshare(2) with a new cgroup namespace too, where the kernel has them (4.6+)."""
    if _libc.unshare(flags | CLONE_NEWCGROUP) == 0:
        return
    if ctypes.get_errno() != 22:  # EINVAL: no cgroup namespaces on this kernel
        _check(-1, what)
    _check(_libc.unshare(flags), what)


def _enter_namespaces() -> None:
    """Unshare mount, PID, network, IPC, UTS and cgroup namespaces (and a user namespace without root)."""
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        _unshare(flags, "unshare (mount, pid, network namespaces)")
        return
    uid, gid = os.getuid(), os.getgid()
    _unshare(flags | CLONE_NEWUSER, "unshare (user namespace)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as fh:
            fh.write(text)


def _drop_capabilities() -> None:
    """No capabilities left (needed in a user namespace, where the kernel keeps its uid) and no way back."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_syscall("capset", header, data), "capset")


def _wait_for_kernel(child: int) -> None:
    """The waiter outside: forward interrupts, kill the kernel on any other stop signal, exit as it did."""
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signal.SIGINT if signum == signal.SIGINT else signal.SIGKILL)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(1)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


def confine_namespaces(policy: dict, parent: int) -> None:
    """New namespaces and the allow-list root; returns in the kernel (PID 1), never in the waiter.

    The waiter dies with ``parent`` (the pid that started it: Jupyter, or the worker), also when that one
    was gone before it could ask; the kernel dies with the waiter, also when the waiter was gone first
    (a pipe the waiter holds open tells: the kernel, PID 1 of its namespace, cannot see its parent's pid).
    """
    _enter_namespaces()
    alive_r, alive_w = os.pipe()
    child = os.fork()
    if child:
        os.close(alive_r)
        die_with_parent()
        if os.getppid() != parent:
            os.kill(child, signal.SIGKILL)
            os._exit(1)
        _wait_for_kernel(child)
    os.close(alive_w)
    os.setsid()  # interrupts reach the kernel once, through the waiter
    die_with_parent()
    if select.select([alive_r], [], [], 0)[0]:  # readable: end of file, the waiter is gone
        os._exit(1)
    os.close(alive_r)
    build_root(policy)


#: Most entries :func:`grader_only_entries` lists (a job folder holds a course copy of a few hundred files).
MAX_GRADER_ONLY_ENTRIES = 100_000


def grader_only_entries(paths: list[str], allowed: list[str]) -> list[str]:
    """Every entry the grader wrote under the grader-only ``paths``, whole trees, except the ``allowed`` ones (the
    kernel's box).

    Listed while still root, before the uid switch: the kernel may be unable to list a folder yet able to open a
    file in it by name, so its own view of the tree would miss exactly what matters. Links are listed, not followed.
    A subtree another uid owns is a kernel's (another submission's box in a shared scratch folder): what it holds is
    that kernel's own doing, and must not let one submission stop another's kernel.
    """
    keep = [a.rstrip("/") for a in allowed]
    me = os.geteuid()

    def inside_allowed(path: str) -> bool:
        if any(path == a or path.startswith(a + "/") for a in keep):
            return True
        try:
            return os.lstat(path).st_uid != me
        except OSError:
            return True

    found: list[str] = []
    for top in paths:
        if not os.path.lexists(top) or inside_allowed(top):
            continue
        found.append(top)
        if os.path.isdir(top) and not os.path.islink(top):
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = [d for d in dirnames if not inside_allowed(os.path.join(dirpath, d))]
                found.extend(os.path.join(dirpath, n) for n in dirnames + filenames)
                if len(found) > MAX_GRADER_ONLY_ENTRIES:
                    raise SandboxError(7, f"{top} holds over {MAX_GRADER_ONLY_ENTRIES} entries; too many to check")
    return found


def check_grader_only(entries: list[str]) -> None:
    """In a container, as the kernel's uid: refuse to go on when it can read any grader-only entry.

    A folder on the way to the kernel's box may be passed through (``x``) but never listed (``r``).
    """
    for path in entries:
        if os.path.lexists(path) and os.access(path, os.R_OK, follow_symlinks=False):
            raise SandboxError(13, f"{path} is readable by the kernel's uid {os.getuid()}; "
                                   "rebuild the grading image (make image) so that only root reads it, and grade "
                                   "with umask 077")


def join_cgroups(procs_files: list[str]) -> None:
    """Move this process into the submission's cgroups (limits memory and process count)."""
    for path in procs_files:
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))


def drop_privileges(uid: int, gid: int) -> None:
    """Become the submission's unprivileged user (no supplementary groups)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def set_limits(limits: dict[str, int]) -> None:
    """Apply rlimits (soft = hard, so student code cannot raise them)."""
    for name, value in limits.items():
        if value and value > 0:
            resource.setrlimit(RLIMITS[name], (value, value))
        elif name == "CORE":
            resource.setrlimit(RLIMITS[name], (0, 0))


def scrub(env: "dict[str, str] | os._Environ[str]", pattern: str, keep: str | None = None) -> dict[str, str]:
    """``env`` without the variables whose names match ``pattern`` (case-insensitive): the secrets; with ``keep``,
    also without those whose whole name does not match ``keep`` (the allow-list)."""
    drop = re.compile(pattern, re.IGNORECASE) if pattern else None
    allowed = re.compile(keep) if keep is not None else None
    return {k: v for k, v in env.items()
            if (allowed is None or allowed.fullmatch(k)) and not (drop and drop.search(k))}


def builds_view(policy: dict) -> bool:
    """Whether :func:`confine` builds the allow-list view (not with ``confine: false``, nor as root in a container)."""
    return bool(policy.get("confine", True)) and not (policy.get("in_container") and os.geteuid() == 0)


def cuda_visible_devices(gpus: list[int], driver_dir: str = NVIDIA_DRIVER) -> str:
    """``CUDA_VISIBLE_DEVICES`` for a view holding the cards ``/dev/nvidia<N>`` of ``gpus``: their UUIDs, as the
    driver lists them; where it lists none, ``0..n-1`` (CUDA numbers only the cards a process can open)."""
    uuids = {}
    try:
        buses = os.listdir(driver_dir)
    except OSError:
        buses = []
    for bus in buses:
        try:
            with open(os.path.join(driver_dir, bus, "information")) as fh:
                info = dict(line.split(":", 1) for line in fh if ":" in line)
            uuids[int(info["Device Minor"])] = info["GPU UUID"].strip()
        except (OSError, KeyError, ValueError):
            continue
    if gpus and all(int(n) in uuids for n in gpus):
        return ",".join(uuids[int(n)] for n in gpus)
    return ",".join(str(i) for i in range(len(gpus)))


def clean_env(policy: dict, base: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: of ``base`` (default: this process's) only the allow-listed variables
    (``env_keep``) that look like no secret (``env_drop``), then the policy's settings; in the allow-list view,
    ``CUDA_VISIBLE_DEVICES`` names the GPUs bound into it."""
    env = scrub(os.environ if base is None else base, policy.get("env_drop", ""), policy.get("env_keep", ""))
    env.update(policy["env_set"])
    if builds_view(policy):
        env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices(policy.get("gpus", []))
    return env


def die_with_parent() -> None:
    """Have the kernel send this process SIGKILL when its parent exits (Linux; elsewhere nothing).

    The one parent-death helper: the launcher, the fork server and the worker all use it.
    """
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except AttributeError:  # not Linux: the caller's other ways of stopping still apply
        pass


def confine(policy: dict, connection_file: str | None, parent: int | None = None) -> None:
    """Everything but the exec; returns in the confined kernel process. Raises :class:`SandboxError`.

    Root: cgroups, namespaces and the allow-list root, then the submission's uid. Not root: the same
    view in a user namespace. In a container: the kernel's uid, checked against ``grader_only``. Last, on
    every confined path, the system-call filter. ``parent``: the pid whose death ends the kernel (default:
    this process's parent now).
    """
    root = os.geteuid() == 0
    parent = os.getppid() if parent is None else parent
    if policy.get("confine", True):
        seccomp = syscalls.prepare()  # while the machine's libraries are in view; fails closed without libseccomp
        if root:
            join_cgroups(policy["cgroup_procs"])
            if connection_file:
                os.chown(connection_file, policy["uid"], policy["gid"])
        container = policy.get("in_container") and root  # Docker, Kubernetes, Gradescope: no namespaces inside
        exposed = grader_only_entries(policy.get("grader_only", []), policy["rw"]) if container else []
        if not container:  # the machine, or an image run as you (Apptainer): the allow-list view
            confine_namespaces(policy, parent)
        if root:
            drop_privileges(policy["uid"], policy["gid"])
        else:
            _drop_capabilities()
        if container:
            check_grader_only(exposed)
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    die_with_parent()  # after the uid change, which clears it
    set_limits(policy["rlimits"])
    os.chdir(policy["workdir"])
    os.umask(0o077)
    if policy.get("confine", True):
        seccomp.load()


def refuse(error: BaseException) -> None:
    """Stop before any student code runs: one line on stderr, exit 3."""
    os.write(2, f"autograder sandbox: cannot confine the kernel ({error}); no student code was run\n".encode())
    os._exit(EXIT_UNCONFINED)


def main(argv: list[str]) -> None:
    """Read the policy, confine, exec the kernel command after ``--``."""
    parent = os.getppid()  # first: the waiter must die with this one, also if it is gone before the waiter asks
    sep = argv.index("--")
    with open(argv[1]) as fh:
        policy = json.load(fh)
    command = argv[sep + 1:]
    conn = command[command.index("-f") + 1] if "-f" in command else None
    try:
        env = clean_env(policy)
        confine(policy, conn, parent)
    except (OSError, ValueError, re.error) as error:
        refuse(error)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv)
