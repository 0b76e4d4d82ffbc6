"""Kernel launcher: confines itself, then becomes the student's IPython kernel (exec).

Jupyter starts it as the kernel command::

    python -I launch.py POLICY.json -- python -m ipykernel_launcher -f CONNECTION_FILE

Standard library only, so it runs before any student code and imports nothing from the course.
The warm kernels of :mod:`autograder.run.warm` call the same :func:`confine` in-process.

The view is an **allow-list by construction**: the kernel's root is a new, empty tmpfs into which
only the policy's paths are bound (``ro``: the Python installation, the virtual environment, the
kit's student packages, the dataset, the system folders; ``rw``: the kernel's own box), at the same
places; ``/tmp``, ``/var/tmp``, ``/dev/shm`` are fresh; ``/dev`` holds six devices; ``/proc`` belongs to
a new PID namespace; ``/etc`` holds a few files and a ``passwd`` naming only the student. Nothing
else exists for the kernel: no course root, no home folder, no other project, no host socket.
Also: no network (a new, empty network namespace), its own IPC and UTS namespaces, no capabilities,
``no_new_privs``, rlimits.

As root the kernel then runs under its own unprivileged uid (and cgroups); without root the same
view is built inside a user namespace (the kernel keeps the instructor's uid, mapped, but sees none
of the instructor's files). The process Jupyter knows stays outside as a small waiter that forwards
interrupts; the kernel is PID 1 of its namespace, so everything it started dies with it.

In a grading container run as root (``in_container``: Docker, Kubernetes, Gradescope), where no
namespace can be made, the container is the outer box: the launcher drops to the kernel's uid and
refuses to start when any of the policy's ``grader_only`` paths is readable by that uid. An image run
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
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
#: statvfs flags a read-only remount must keep (a user namespace may not clear them): ST_* -> MS_*.
_KEEP_FLAGS = {2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: 1024, 2048: 2048, 4096: 1 << 21}
_SYSCALLS = {"x86_64": {"pivot_root": 155, "capset": 126}, "aarch64": {"pivot_root": 41, "capset": 91}}
#: System folders every kernel gets read-only (symlinks such as merged-usr ``/bin`` are copied as links).
SYSTEM_RO = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
#: Files of /etc the interpreter and its libraries read (no user list, no host names, no secrets).
ETC_FILES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "mime.types", "fonts",
             "alternatives", "ssl"]
DEVICES = ["null", "zero", "full", "random", "urandom", "tty"]
EXIT_UNCONFINED = 3
_libc = ctypes.CDLL(None, use_errno=True)

RLIMITS = {
    "AS": resource.RLIMIT_AS, "NPROC": resource.RLIMIT_NPROC, "FSIZE": resource.RLIMIT_FSIZE,
    "CPU": resource.RLIMIT_CPU, "NOFILE": resource.RLIMIT_NOFILE, "CORE": resource.RLIMIT_CORE,
}


class SandboxError(OSError):
    """The sandbox could not be set up (the kernel must not start)."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(src.encode() if src else None, dst.encode(), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {src or ''} on {dst}")


def _syscall(name: str, *args: object) -> int:
    number = _SYSCALLS.get(platform.machine(), {}).get(name)
    if number is None:
        raise SandboxError(38, f"{name}: unknown system call number on {platform.machine()}")
    return _libc.syscall(number, *args)


def _remount_ro(path: str) -> None:
    flags = os.statvfs(path).f_flag
    keep = sum(ms for st, ms in _KEEP_FLAGS.items() if flags & st)
    _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)


def _bind(old: str, path: str, new: str, *, writable: bool) -> None:
    """Bind ``old + path`` at ``new + path`` (a symlink is copied as a link)."""
    source, target = old + path, new + path
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
        return
    if not os.path.exists(source):
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    if not writable:
        _remount_ro(target)


def _tmpfs(target: str, size_mb: int, mode: str = "1777") -> None:
    os.makedirs(target, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode={mode}")


def _etc(old: str, new: str, uid: int, gid: int, home: str) -> None:
    _tmpfs(new + "/etc", 1, "0755")
    for name in ETC_FILES:
        _bind(old, "/etc/" + name, new, writable=False)
    with open(new + "/etc/passwd", "w") as fh:
        fh.write(f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nstudent:x:{uid}:{gid}:student:{home}:/usr/sbin/nologin\n")
    with open(new + "/etc/group", "w") as fh:
        fh.write(f"root:x:0:\nstudent:x:{gid}:\n")
    with open(new + "/etc/hosts", "w") as fh:
        fh.write("127.0.0.1 localhost\n")


def _dev(old: str, new: str, shm_mb: int) -> None:
    _tmpfs(new + "/dev", 1, "0755")
    gpus = sorted(n for n in os.listdir(old + "/dev") if n.startswith("nvidia"))  # a host GPU, where there is one
    for name in DEVICES + gpus:
        _bind(old, "/dev/" + name, new, writable=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{new}/dev/{name}")
    _tmpfs(new + "/dev/shm", shm_mb)


def build_root(policy: dict) -> None:
    """In fresh mount + PID namespaces: a new root holding only the policy's paths; pivot into it.

    Follows bubblewrap's order: a tmpfs base becomes the root with the old one under ``/oldroot``,
    the new root is assembled in ``/newroot`` from there (``/proc`` mounted while the old one is still
    visible, which a user namespace requires), then the old root is detached and forgotten.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    base = "/tmp" if os.path.isdir("/tmp") else "/mnt"
    _mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    os.mkdir(base + "/oldroot")
    os.mkdir(base + "/newroot")
    _check(_syscall("pivot_root", (base).encode(), (base + "/oldroot").encode()), "pivot_root")
    os.chdir("/")
    old, new = "/oldroot", "/newroot"
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    size = int(policy["tmp_size_mb"])
    for tmp in policy["private_tmp"]:  # first: the kit and the box may live under /tmp, and are bound into it
        if tmp != "/dev/shm":
            _tmpfs(new + tmp, size)
    _dev(old, new, size)
    for path in SYSTEM_RO:
        _bind(old, path, new, writable=False)
    for path in sorted(set(policy["ro"])):
        _bind(old, path, new, writable=False)
    for path in sorted(set(policy["rw"])):
        _bind(old, path, new, writable=True)
    _freeze_scaffolding(new, [t for t in policy["private_tmp"] if t != "/dev/shm"], [*policy["ro"], *policy["rw"]])
    home = policy["env_set"].get("HOME", "/nonexistent")
    uid = policy["uid"] if os.getuid() == 0 else os.getuid()
    gid = policy["gid"] if os.getuid() == 0 else os.getgid()
    _etc(old, new, uid, gid, home)
    os.makedirs(new + "/proc", exist_ok=True)
    _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.mkdir(new + "/.old")
    _check(_syscall("pivot_root", new.encode(), (new + "/.old").encode()), "pivot_root into the new root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "detach the old root")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _freeze_scaffolding(new: str, tmps: list[str], listed: list[str]) -> None:
    """Make read-only the folders made in a private /tmp to hold a listed path (``/tmp/ag-*`` above the box):
    without root the kernel owns them, and its /tmp must hold nothing it did not write but those paths."""
    tops = sorted({os.path.join(t, os.path.relpath(p, t).split(os.sep)[0]) for p in listed for t in tmps
                   if p.startswith(t.rstrip("/") + "/")})
    for top in tops:
        if os.path.isdir(new + top) and not os.path.ismount(new + top):
            _mount(new + top, new + top, None, MS_BIND | MS_REC)
            _remount_ro(new + top)


def _enter_namespaces() -> None:
    """Unshare mount, PID, network, IPC and UTS namespaces (and a user namespace without root)."""
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        _check(_libc.unshare(flags), "unshare (mount, pid, network namespaces)")
        return
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
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


def confine_namespaces(policy: dict) -> None:
    """New namespaces and the allow-list root; returns in the kernel (PID 1), never in the waiter."""
    _enter_namespaces()
    child = os.fork()
    if child:
        _wait_for_kernel(child)
    os.setsid()  # interrupts reach the kernel once, through the waiter
    die_with_parent()
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


def scrub(env: "dict[str, str] | os._Environ[str]", pattern: str) -> dict[str, str]:
    """``env`` without the variables whose names match ``pattern`` (case-insensitive): the secrets."""
    drop = re.compile(pattern, re.IGNORECASE)
    return {k: v for k, v in env.items() if not drop.search(k)}


def clean_env(policy: dict, base: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: ``base`` (default: this process's) minus secrets, plus the policy's settings."""
    env = scrub(os.environ if base is None else base, policy["env_drop"])
    env.update(policy["env_set"])
    return env


def die_with_parent() -> None:
    """Have the kernel send this process SIGKILL when its parent exits (Linux; elsewhere nothing).

    The one parent-death helper: the launcher, the fork server and the worker all use it.
    """
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except AttributeError:  # not Linux: the caller's other ways of stopping still apply
        pass


def confine(policy: dict, connection_file: str | None) -> None:
    """Everything but the exec; returns in the confined kernel process. Raises :class:`SandboxError`.

    Root: cgroups, namespaces and the allow-list root, then the submission's uid. Not root: the same
    view in a user namespace. In a container: the kernel's uid, checked against ``grader_only``.
    """
    root = os.geteuid() == 0
    if policy.get("confine", True):
        if root:
            join_cgroups(policy["cgroup_procs"])
            if connection_file:
                os.chown(connection_file, policy["uid"], policy["gid"])
        container = policy.get("in_container") and root  # Docker, Kubernetes, Gradescope: no namespaces inside
        exposed = grader_only_entries(policy.get("grader_only", []), policy["rw"]) if container else []
        if not container:  # the machine, or an image run as you (Apptainer): the allow-list view
            confine_namespaces(policy)
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


def refuse(error: BaseException) -> None:
    """Stop before any student code runs: one line on stderr, exit 3."""
    os.write(2, f"autograder sandbox: cannot confine the kernel ({error}); no student code was run\n".encode())
    os._exit(EXIT_UNCONFINED)


def main(argv: list[str]) -> None:
    """Read the policy, confine, exec the kernel command after ``--``."""
    sep = argv.index("--")
    with open(argv[1]) as fh:
        policy = json.load(fh)
    command = argv[sep + 1:]
    conn = command[command.index("-f") + 1] if "-f" in command else None
    env = clean_env(policy)
    try:
        confine(policy, conn)
    except (OSError, ValueError) as error:
        refuse(error)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv)
