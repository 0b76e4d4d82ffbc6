"""Run a command where no namespace can be made, as Docker's default seccomp profile does: ``python no_namespaces.py CMD...``.

Loads a seccomp filter (libseccomp, through ctypes) that answers ``unshare`` and namespace-making ``clone`` with
EPERM, then execs the command; every process it starts inherits the filter.
"""
from __future__ import annotations

import ctypes
import errno
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET


class _Arg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def main(argv: list[str]) -> None:
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_Arg)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    deny = 0x00050000 | errno.EPERM  # SCMP_ACT_ERRNO(EPERM)
    for name in (b"unshare", b"setns"):
        if lib.seccomp_rule_add_array(ctx, deny, lib.seccomp_syscall_resolve_name(name), 0, None) != 0:
            raise SystemExit(f"seccomp: cannot filter {name.decode()}")
    clone = lib.seccomp_syscall_resolve_name(b"clone")
    # libseccomp compares (arg & mask) == value: deny each namespace flag on its own
    for bit in [1 << i for i in range(32) if NAMESPACE_FLAGS & (1 << i)]:
        arg = _Arg(0, SCMP_CMP_MASKED_EQ, bit, bit)
        if lib.seccomp_rule_add_array(ctx, deny, clone, 1, ctypes.byref(arg)) != 0:
            raise SystemExit("seccomp: cannot filter clone")
    if lib.seccomp_load(ctx) != 0:
        raise SystemExit("seccomp: cannot load the filter")
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    main(sys.argv)
