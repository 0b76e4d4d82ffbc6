"""Kernel launcher: confines itself, then becomes the student's IPython kernel (exec).

Jupyter starts it as the kernel command::

    python -I sandbox_launch.py POLICY.json -- python -m ipykernel_launcher -f CONNECTION_FILE

Standard library only, so it runs before any student code and imports nothing from the
course. In order, as root: join the submission's cgroups; new mount and network namespaces
(no network at all, not even loopback); private ``/tmp``, ``/var/tmp`` and ``/dev/shm``; every
course root masked except an allow-list (the virtual environment, data, release, helper
packages); the submission's own scratch folder bound back; then drop to the submission's
unprivileged uid, set rlimits and exec the kernel (same pid, so Jupyter's interrupts reach it).
Not root: only the rlimits, plus a network namespace when user namespaces are allowed. Root in a
grading container (``AUTOGRADER_CONTAINER=1``, no right to make namespaces): the container already
hides the host and has no network, so the launcher only drops to the submission's uid.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)

RLIMITS = {
    "AS": resource.RLIMIT_AS, "NPROC": resource.RLIMIT_NPROC, "FSIZE": resource.RLIMIT_FSIZE,
    "CPU": resource.RLIMIT_CPU, "NOFILE": resource.RLIMIT_NOFILE, "CORE": resource.RLIMIT_CORE,
}


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(src.encode(), dst.encode(), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {src} on {dst}")


def _bind_fd(fd: int, dst: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(dst, exist_ok=True)
    elif not os.path.exists(dst):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "a").close()
    _mount(f"/proc/self/fd/{fd}", dst, None, MS_BIND | MS_REC)


def _open(path: str) -> tuple[int, bool] | None:
    try:
        return os.open(path, os.O_PATH | os.O_CLOEXEC), os.path.isdir(path)
    except OSError:
        return None


def confine_filesystem(policy: dict) -> None:
    """New mount + network namespaces; private tmp; masked course roots; own scratch bound back."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    keep = [(p, _open(p)) for p in policy["keep"]]
    masks = []
    for mask in policy["mask"]:
        allowed = [(name, _open(os.path.join(mask["path"], name))) for name in mask["allow"]]
        masks.append((mask["path"], allowed))
    for tmp in policy["private_tmp"]:
        if os.path.isdir(tmp):
            _mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={policy['tmp_size_mb']}m,mode=1777")
    for path, opened in keep:
        if opened:
            _bind_fd(opened[0], path, opened[1])
    for root, allowed in masks:
        if not os.path.isdir(root):
            os.makedirs(root, exist_ok=True)
        _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for name, opened in allowed:
            if opened:
                _bind_fd(opened[0], os.path.join(root, name), opened[1])
    for path in policy["hide_files"]:
        if os.path.isfile(path):
            _mount("/dev/null", path, None, MS_BIND)
    for _, opened in keep:
        if opened:
            os.close(opened[0])
    for _, allowed in masks:
        for _, opened in allowed:
            if opened:
                os.close(opened[0])


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


def unprivileged_netns() -> None:
    """Without root: a user + network namespace when the system allows it (else keep going)."""
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return
    with open("/proc/self/setgroups", "w") as fh:
        fh.write("deny")
    with open("/proc/self/uid_map", "w") as fh:
        fh.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as fh:
        fh.write(f"{gid} {gid} 1")


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
    """Everything but the exec: cgroups, namespaces, the submission's uid, rlimits, work folder, umask."""
    if os.geteuid() == 0:
        join_cgroups(policy["cgroup_procs"])
        if connection_file:
            os.chown(connection_file, policy["uid"], policy["gid"])
        try:
            confine_filesystem(policy)
        except OSError:
            if not (policy.get("in_container") or os.environ.get("AUTOGRADER_CONTAINER") == "1"):
                raise
        drop_privileges(policy["uid"], policy["gid"])
    else:
        unprivileged_netns()
    die_with_parent()  # after the uid change, which clears it
    set_limits(policy["rlimits"])
    os.chdir(policy["workdir"])
    os.umask(0o077)


def main(argv: list[str]) -> None:
    """Read the policy, confine, exec the kernel command after ``--``."""
    sep = argv.index("--")
    with open(argv[1]) as fh:
        policy = json.load(fh)
    command = argv[sep + 1:]
    conn = command[command.index("-f") + 1] if "-f" in command else None
    env = clean_env(policy)
    confine(policy, conn)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv)
