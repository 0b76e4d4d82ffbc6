"""The kernel's system-call filter (seccomp, through libseccomp and ctypes; standard library only).

:mod:`autograder.sandbox.launch` loads it last, just before the kernel's code runs, on every confined
path. Everything is allowed but what a notebook never needs and an escape often starts with, which
fails with ``EPERM``: a nested user namespace (``unshare``/``clone`` with a namespace flag, ``setns``),
the kernel keyrings, io_uring, eBPF, perf events, userfaultfd, ptrace, and the administrator's calls
Docker's default profile also refuses (mount, module loading, kexec, swap, reboot, accounting...).
``clone3`` answers ``ENOSYS``, as under Docker: its flags sit in memory a filter cannot read, and the C
library then falls back to ``clone``, whose flags it can (threads still start; namespaces do not).

A machine without libseccomp fails closed: :func:`prepare` raises, and the launcher refuses the kernel.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno

#: The library (Debian's libseccomp2, installed by ``make system-deps``; present in the grading image).
DEFAULT_LIBRARY = "libseccomp.so.2"
LIBRARY = DEFAULT_LIBRARY
#: Answered with EPERM whatever their arguments.
DENIED = (
    "setns", "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf",
    "perf_event_open", "userfaultfd", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "mount", "umount2", "umount", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "open_by_handle_at", "swapon", "swapoff", "reboot", "acct", "lookup_dcookie", "quotactl", "syslog", "vhangup",
    "uselib", "nfsservctl", "_sysctl",
)
#: Flags of ``clone`` and ``unshare`` that make a namespace (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
#: NEWNET, NEWTIME): any of them is refused.
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
_NR_SCMP_ERROR = -1


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)  # SCMP_ACT_ERRNO(code)


class FilterError(OSError):
    """The filter could not be built or loaded (the kernel must not start)."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _library(name: str) -> ctypes.CDLL:
    for candidate in (name, ctypes.util.find_library("seccomp") if name == DEFAULT_LIBRARY else None):
        if candidate:
            try:
                return ctypes.CDLL(candidate, use_errno=True)
            except OSError:
                continue
    raise FilterError(errno.ENOENT, f"{name} not found, so no system-call filter can be loaded: install libseccomp2 "
                                    "(make system-deps; apt-get install libseccomp2)")


class Filter:
    """A built, not yet loaded filter. Build it while the machine's libraries are in view (:func:`prepare`)."""

    def __init__(self, library: str | None = None) -> None:
        lib = _library(library or LIBRARY)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
        if not self._ctx:
            raise FilterError(errno.ENOMEM, "seccomp_init failed")
        deny = _errno_action(errno.EPERM)
        for name in DENIED:
            self._rule(name, deny)
        self._rule("clone3", _errno_action(errno.ENOSYS))
        for name in ("clone", "unshare"):  # the flags are the first argument on x86_64 and aarch64
            for bit in [1 << i for i in range(32) if NAMESPACE_FLAGS & (1 << i)]:
                self._rule(name, deny, _ArgCmp(0, SCMP_CMP_MASKED_EQ, bit, bit))

    def _rule(self, name: str, action: int, compare: _ArgCmp | None = None) -> None:
        number = self._lib.seccomp_syscall_resolve_name(name.encode())
        if number == _NR_SCMP_ERROR:  # unknown to this libseccomp: an old one, and a call this machine may lack
            return
        ret = self._lib.seccomp_rule_add_array(self._ctx, action, number, 1 if compare else 0,
                                               ctypes.byref(compare) if compare else None)
        if ret != 0 and number >= 0:  # a negative number is a call this architecture has not got
            raise FilterError(-ret, f"seccomp: cannot filter {name}: {errno.errorcode.get(-ret, ret)}")

    def load(self) -> None:
        """Install the filter on this thread and everything it starts from now on (needs ``no_new_privs`` or root)."""
        ret = self._lib.seccomp_load(self._ctx)
        self._lib.seccomp_release(self._ctx)
        self._ctx = None
        if ret != 0:
            raise FilterError(-ret, f"seccomp: cannot load the system-call filter: {errno.errorcode.get(-ret, ret)}")


def prepare(library: str | None = None) -> Filter:
    """The kernel's filter, built from ``library`` (default :data:`LIBRARY`); raises :class:`FilterError` when
    libseccomp is missing."""
    return Filter(library)
