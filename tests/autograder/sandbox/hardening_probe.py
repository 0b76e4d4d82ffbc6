"""Run inside a kernel (its text is passed with ``python -c``): try each system call the filter must refuse.

Prints one JSON object: call name -> ``"ok"`` (the call did what it was asked) or the errno's name. The
arguments are chosen so that, without a filter, the kernel answers something other than EPERM wherever it
can (a bad descriptor, a bad address, a missing path), also for root: EPERM then means the filter said no.
Nothing here changes the machine: every call that succeeds is undone at once.
"""
import ctypes
import errno
import json
import os
import platform
import signal
import time

NUMBERS = {  # name: (x86_64, aarch64)
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218), "unshare": (272, 97),
    "clone": (56, 220), "setns": (308, 268), "io_uring_setup": (425, 425), "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427), "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "ptrace": (101, 117), "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41), "kexec_load": (246, 104),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "open_by_handle_at": (304, 265), "swapon": (167, 224), "swapoff": (168, 225), "reboot": (169, 142),
    "acct": (163, 89),
}
ARCH = 0 if platform.machine() == "x86_64" else 1
CLONE_NEWUSER = 0x10000000
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(name, *args):
    ctypes.set_errno(0)
    ret = libc.syscall(NUMBERS[name][ARCH], *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return ret, ctypes.get_errno()


def outcome(ret, err):
    return "ok" if ret >= 0 else errno.errorcode.get(err, str(err))


def closing(name, *args):
    ret, err = call(name, *args)
    if ret >= 0:
        os.close(ret)
    return outcome(ret, err)


def in_child(action):
    """Run ``action`` in a child (it may change the process for good); its answer comes back as the exit code."""
    pid = os.fork()
    if pid == 0:
        try:
            ret, err = action()
            os._exit(0 if ret >= 0 else min(err, 250))
        finally:
            os._exit(251)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "ok" if code == 0 else errno.errorcode.get(code, str(code))


def raw_clone():
    ret, err = call("clone", CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)
    if ret == 0:
        os._exit(0)
    if ret > 0:
        os.waitpid(ret, 0)
    return ret, err


def ptrace_child():
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    try:
        ret, err = call("ptrace", 16, child, 0, 0)  # PTRACE_ATTACH
        return outcome(ret, err)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def perf_attr():
    attr = ctypes.create_string_buffer(128)
    ctypes.c_uint32.from_buffer(attr, 0).value = 1  # PERF_TYPE_SOFTWARE (config 0: the cpu clock)
    ctypes.c_uint32.from_buffer(attr, 4).value = 128  # size
    ctypes.c_uint64.from_buffer(attr, 40).value = 1 | 32 | 64  # disabled, exclude_kernel, exclude_hv
    return attr


found = {
    "keyctl": outcome(*call("keyctl", 0, -3, 0)),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "add_key": outcome(*call("add_key", 0, 0, 0, 0, 0)),
    "request_key": outcome(*call("request_key", 0, 0, 0, 0)),
    "unshare_user": in_child(lambda: call("unshare", CLONE_NEWUSER)),
    "clone_user": in_child(raw_clone),
    "setns": outcome(*call("setns", -1, 0)),
    "io_uring_setup": closing("io_uring_setup", 4, ctypes.create_string_buffer(120)),
    "io_uring_enter": outcome(*call("io_uring_enter", -1, 0, 0, 0, 0, 0)),
    "io_uring_register": outcome(*call("io_uring_register", -1, 0, 0, 0)),
    "bpf": outcome(*call("bpf", 9999, 0, 0)),
    "perf_event_open": closing("perf_event_open", perf_attr(), 0, -1, -1, 0),
    "userfaultfd": closing("userfaultfd", 1 | os.O_CLOEXEC),  # UFFD_USER_MODE_ONLY
    "ptrace": ptrace_child(),
    "mount": outcome(*call("mount", 0, b"/nonexistent-agprobe", 0, 0, 0)),
    "umount2": outcome(*call("umount2", b"/nonexistent-agprobe", 0)),
    "pivot_root": outcome(*call("pivot_root", 0, 0)),
    "kexec_load": outcome(*call("kexec_load", 0, 0, 0, 0xDEAD0000)),
    "init_module": outcome(*call("init_module", 0, 0, 0)),
    "finit_module": outcome(*call("finit_module", -1, 0, 0)),
    "delete_module": outcome(*call("delete_module", 0, 0)),
    "open_by_handle_at": outcome(*call("open_by_handle_at", -1, 0, 0)),
    "swapon": outcome(*call("swapon", 0, 0)),
    "swapoff": outcome(*call("swapoff", 0)),
    "reboot": outcome(*call("reboot", 0, 0, 0, 0)),
    "acct": outcome(*call("acct", 1)),
}
# what must keep working: threads (clone without a namespace flag) and processes
import threading  # noqa: E402

box = []
worker = threading.Thread(target=box.append, args=(1,))
worker.start()
worker.join()
found["thread"] = "ok" if box == [1] else "failed"
found["fork"] = in_child(lambda: (0, 0))
found["seccomp"] = next((ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("Seccomp:")), "?")
print(json.dumps(found))
