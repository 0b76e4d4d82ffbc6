"""The kernel's view: an empty root into which only the policy's paths are bound (see :mod:`launch`).

Standard library only, loaded beside the launcher before any student code runs: the mount primitives, the
allow-list root (``build_root``), ``/etc``, ``/dev`` (with the slot's GPUs only) and the masked ``/proc``.
Every mount is ``nosuid,nodev``; the read-only ones are read-only down to every submount.
"""
from __future__ import annotations

import ctypes
import os
import platform
import re

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
#: statvfs flags a remount must keep (a user namespace may not clear them): ST_* -> MS_*.
_KEEP_FLAGS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: 1024, 2048: 2048, 4096: 1 << 21}
_SYSCALLS = {"x86_64": {"pivot_root": 155, "capset": 126, "mount_setattr": 442},
             "aarch64": {"pivot_root": 41, "capset": 91, "mount_setattr": 442}}
#: System folders every kernel gets read-only (symlinks such as merged-usr ``/bin`` are copied as links).
SYSTEM_RO = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
#: Files of /etc the interpreter and its libraries read (no user list, no host names, no secrets).
ETC_FILES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "mime.types", "fonts",
             "alternatives", "ssl"]
DEVICES = ["null", "zero", "full", "random", "urandom", "tty"]
#: Nodes every GPU user needs besides its card's ``nvidia<N>`` (bound only when the policy names a GPU).
GPU_SHARED = ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"]
#: Where the NVIDIA driver describes its cards (``Device Minor`` and ``GPU UUID`` of each).
NVIDIA_DRIVER = "/proc/driver/nvidia/gpus"
#: What a kernel's /proc must not show: read-only; folders masked by an empty one; files masked by /dev/null.
PROC_READ_ONLY = ["sys", "fs"]
PROC_EMPTY = ["irq", "bus", "acpi", "scsi"]
PROC_NULL = ["sysrq-trigger", "kcore", "keys", "key-users", "timer_list", "timer_stats", "latency_stats", "sched_debug"]
_libc = ctypes.CDLL(None, use_errno=True)


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


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def _submounts(path: str) -> list[str]:
    """``path`` and every mount point below it (this mount namespace's ``/proc/self/mountinfo``)."""
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == path or point.startswith(path.rstrip("/") + "/"):
                points.append(point)
    return points or [path]


def _restrict(path: str, *, readonly: bool, nodev: bool = True, noexec: bool = False, recursive: bool = True) -> None:
    """Add ``nosuid`` (and ``nodev``, ``ro``, ``noexec`` as asked) to the mount at ``path`` and, ``recursive``, to
    every mount below it: mount_setattr(2) where the kernel has it (5.12+), else a remount of each."""
    flags = MS_NOSUID | (MS_NODEV if nodev else 0) | (MS_RDONLY if readonly else 0) | (MS_NOEXEC if noexec else 0)
    attr = _MountAttr(attr_set=flags)  # MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC have the MS_* values 1, 2, 4, 8
    ret = _syscall("mount_setattr", AT_FDCWD, path.encode(), AT_RECURSIVE if recursive else 0, ctypes.byref(attr),
                   ctypes.sizeof(attr))
    if ret == 0:
        return
    if ctypes.get_errno() != 38:  # anything but ENOSYS is a real failure
        _check(ret, f"mount_setattr {path}")
    for point in _submounts(path) if recursive else [path]:
        keep = sum(ms for st, ms in _KEEP_FLAGS.items() if os.statvfs(point).f_flag & st)
        _mount(None, point, None, MS_REMOUNT | MS_BIND | keep | flags)


def _bind_at(source: str, target: str, *, writable: bool, device: bool = False) -> None:
    """Bind ``source`` (and the mounts below it) at ``target``: ``nosuid``, ``nodev`` (a device node: ``noexec``
    instead), read-only all the way down unless ``writable``. A symlink is copied as a link; nothing missing is made."""
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
    _restrict(target, readonly=not writable, nodev=not device, noexec=device)


def _bind(old: str, path: str, new: str, *, writable: bool) -> None:
    """Bind ``old + path`` at ``new + path``."""
    _bind_at(old + path, new + path, writable=writable)


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


def _dev(old: str, new: str, shm_mb: int, gpus: list[int], dev_dir: str = "/dev") -> None:
    """``new/dev``: the six devices, and for each of ``gpus`` its ``nvidia<N>`` plus the shared GPU nodes, from
    ``old + dev_dir`` (a test gives a folder of its own)."""
    _tmpfs(new + "/dev", 1, "0755")
    cards = [f"nvidia{int(n)}" for n in gpus]
    for name in DEVICES + (cards + GPU_SHARED if cards else []):
        _bind_at(f"{old}{dev_dir}/{name}", f"{new}/dev/{name}", writable=True, device=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{new}/dev/{name}")
    _tmpfs(new + "/dev/shm", shm_mb)


def _mask_proc(proc: str, null: str) -> None:
    """What Docker hides of /proc: ``sys`` and ``fs`` read-only; interrupts, buses, keys, timers, kernel memory masked."""
    for name in PROC_READ_ONLY:
        if os.path.isdir(f"{proc}/{name}"):
            _mount(f"{proc}/{name}", f"{proc}/{name}", None, MS_BIND | MS_REC)
            _restrict(f"{proc}/{name}", readonly=True, noexec=True)
    for name in PROC_EMPTY:
        if os.path.isdir(f"{proc}/{name}"):
            _mount("tmpfs", f"{proc}/{name}", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
    for name in PROC_NULL:
        if os.path.isfile(f"{proc}/{name}"):
            _bind_at(null, f"{proc}/{name}", writable=False, device=True)


def build_root(policy: dict) -> None:
    """In fresh mount + PID namespaces: a new root holding only the policy's paths; pivot into it.

    Follows bubblewrap's order: a tmpfs base becomes the root with the old one under ``/oldroot``,
    the new root is assembled in ``/newroot`` from there (``/proc`` mounted while the old one is still
    visible, which a user namespace requires), then the old root is detached and forgotten.
    """
    os.umask(0o022)  # the folders made above a listed path must be passable for the kernel (the grader runs under 077)
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
    _dev(old, new, size, policy.get("gpus", []))
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
    _mask_proc(new + "/proc", new + "/dev/null")
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
            _restrict(new + top, readonly=True, recursive=False)  # the listed paths below keep their own modes
