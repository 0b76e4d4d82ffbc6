"""The kernel's hardening: its system-call filter, mount and /proc hygiene, cgroup namespace, environment
allow-list, the waiter's death with its parent, and GPU nodes per slot.

Each test runs the launcher itself on a policy (no nbgrader, seconds each) with a small program as the
"kernel" (``hardening_probe.py`` tries the system calls). Most need root: they make mounts, a sandbox uid, a user.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from autograder.contracts.fields import ContractError
from autograder.contracts.job import Policy
from autograder.course.settings import Autograder
from autograder.sandbox import limits as sandbox

HERE = Path(__file__).resolve().parent
SANDBOX_DIR = sandbox.LAUNCHER.parent
PROBE = (HERE / "hardening_probe.py").read_text()
#: The calls the filter answers with EPERM (the probe's names).
DENIED = ("keyctl", "add_key", "request_key", "unshare_user", "clone_user", "setns", "io_uring_setup", "io_uring_enter",
          "io_uring_register", "bpf", "perf_event_open", "userfaultfd", "ptrace", "mount", "umount2", "pivot_root",
          "kexec_load", "init_module", "finit_module", "delete_module", "open_by_handle_at", "swapon", "swapoff",
          "reboot", "acct")
#: What /proc must not show a kernel (where the machine has it).
PROC_MASKED = ("sysrq-trigger", "irq", "bus", "kcore", "keys", "timer_list")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounts, a sandbox uid and test users need root")


def _launcher_module(copy_to: Path | None = None) -> str:
    """Python that loads launch.py by path (as ``python -I launch.py`` does: no package), as ``launch``."""
    folder = copy_to or SANDBOX_DIR
    return ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('launch', {str(folder / 'launch.py')!r})\n"
            "launch = importlib.util.module_from_spec(spec); spec.loader.exec_module(launch)\n")


def _kernel(tmp_path: Path, program: str, *, ro: tuple[str, ...] = (), env: dict[str, str] | None = None,
            before: str = "") -> subprocess.CompletedProcess:
    """Run ``program`` as a kernel through the launcher; ``before``: shell run first, in a private mount namespace."""
    uid = 63991 if sandbox.is_root() else os.getuid()
    box = tmp_path / "box"
    sandbox.make_box(box, uid)
    rules = sandbox.policy(limits=Autograder().limits(), slot=0, box=box, cgroup_procs=[], uid=uid)
    rules.ro.extend(ro)
    rules.write(tmp_path / "policy.json")
    argv = [sys.executable, "-I", str(sandbox.LAUNCHER), str(tmp_path / "policy.json"), "--",
            sys.executable, "-I", "-c", program]
    if before:
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", before + ' && exec "$@"', "sh", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


# --- the system-call filter ------------------------------------------------------------------------------------


@needs_root
def test_the_filter_refuses_each_call_that_root_could_otherwise_make(tmp_path: Path) -> None:
    """The same calls, as root (every capability): without the filter the kernel answers each on its own
    terms (a result, EBADF, EFAULT, ENOENT...), never EPERM; under it every one is EPERM, while threads and
    processes still start."""
    load = f"import sys; sys.path.insert(0, {str(SANDBOX_DIR)!r}); import syscalls; syscalls.prepare().load()\n"
    runs = {}
    for name, prelude in (("open", ""), ("filtered", load)):
        done = subprocess.run([sys.executable, "-I", "-c", prelude + PROBE], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        runs[name] = json.loads(done.stdout)
    assert [n for n in DENIED if runs["open"][n] == "EPERM"] == [], runs["open"]
    assert {n: runs["filtered"][n] for n in DENIED} == {n: "EPERM" for n in DENIED}
    assert (runs["filtered"]["thread"], runs["filtered"]["fork"], runs["filtered"]["seccomp"]) == ("ok", "ok", "2")


def test_the_filter_module_imports_nothing_but_the_standard_library() -> None:
    source = (SANDBOX_DIR / "syscalls.py").read_text()
    imports = {ln.split()[1].split(".")[0] for ln in source.splitlines() if ln.startswith(("import ", "from "))}
    assert imports <= {"__future__", "ctypes", "errno"}, imports


@needs_root
def test_a_confined_kernel_runs_under_the_filter(tmp_path: Path) -> None:
    """Through the launcher, as the kernel's own uid: namespaces, keyrings, io_uring, perf, userfaultfd, ptrace..."""
    done = _kernel(tmp_path, PROBE)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert {n: found[n] for n in DENIED} == {n: "EPERM" for n in DENIED}
    assert (found["thread"], found["fork"], found["seccomp"]) == ("ok", "ok", "2")


def test_without_libseccomp_the_launcher_refuses_in_one_line(tmp_path: Path) -> None:
    """Fail closed: no filter, no kernel (exit 3, one line naming the library and the fix)."""
    box = tmp_path / "box"
    sandbox.make_box(box, 63992 if sandbox.is_root() else os.getuid())
    rules = sandbox.policy(limits=Autograder().limits(), slot=0, box=box, cgroup_procs=[],
                           uid=63992 if sandbox.is_root() else os.getuid())
    rules.write(tmp_path / "policy.json")
    argv = ["launch.py", str(tmp_path / "policy.json"), "--", sys.executable, "-c", f"open({str(tmp_path / 'ran')!r}, 'w')"]
    program = _launcher_module() + f"launch.syscalls.LIBRARY = 'libseccomp-missing.so.9'\nlaunch.main({argv!r})\n"
    done = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True, text=True, timeout=60)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert done.returncode == 3 and len(lines) == 1, done.stderr
    assert "libseccomp-missing.so.9 not found" in lines[0] and "libseccomp2" in lines[0]
    assert not (tmp_path / "ran").exists()


# --- mounts, /proc, cgroups, environment ------------------------------------------------------------------------

_VIEW = """
import json, os
mounts = [line.split() for line in open('/proc/self/mountinfo')]
out = {'mounts': {m[4]: m[5].split(',') + [m[m.index('-') + 1]] for m in mounts}}
out['cgroup'] = open('/proc/self/cgroup').read().splitlines()
out['env'] = dict(os.environ)
shown = {}
for name in %(masked)r:
    p = '/proc/' + name
    try:
        shown[name] = os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(64).decode(errors='replace')
    except OSError as e:
        shown[name] = type(e).__name__
out['proc'] = shown
writes = {}
for p in %(writes)r:
    try:
        open(p, 'w').write('x'); writes[p] = 'wrote'
    except OSError as e:
        writes[p] = type(e).__name__
out['writes'] = writes
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One confined kernel's account of its view: a read-only kit folder holding its own (writable) mount,
    and secret-looking variables in the launcher's environment."""
    if not sandbox.is_root():
        pytest.skip("mounts a tmpfs in a private mount namespace")
    tmp = tmp_path_factory.mktemp("view")
    kit = tmp / "kit"
    (kit / "sub").mkdir(parents=True)
    program = _VIEW % {"masked": PROC_MASKED, "writes": [str(kit / "file.txt"), str(kit / "sub" / "file.txt")]}
    env = {"MY_COURSE_PATH": "/secret/course", "AWS_SECRET_ACCESS_KEY": "sekret", "UNET_DATA_DIR": str(kit),
           "TF_CPP_MIN_LOG_LEVEL": "3", "LC_ALL": "C.UTF-8"}
    done = _kernel(tmp, program, ro=(str(kit),), env=env, before=f"mount -t tmpfs -o size=1m agsub {kit / 'sub'}")
    assert done.returncode == 0, done.stderr
    yield json.loads(done.stdout)


def test_every_mount_is_nosuid_and_all_but_device_nodes_nodev(view: dict) -> None:
    devices = {f"/dev/{d}" for d in ("null", "zero", "full", "random", "urandom", "tty")}
    assert [p for p, opts in view["mounts"].items() if "nosuid" not in opts] == []
    # (a /proc file masked with a read-only /dev/null reads as empty, as under Docker)
    assert [p for p, opts in view["mounts"].items() if "nodev" not in opts and p not in devices
            and not (p.startswith("/proc/") and "ro" in opts)] == []


def test_read_only_paths_are_read_only_all_the_way_down(view: dict) -> None:
    """A mount under a read-only path (``kit/sub``) is read-only too, not only the top."""
    assert "wrote" not in view["writes"].values(), view["writes"]
    sub = next(p for p in view["mounts"] if p.endswith("/kit/sub"))
    assert "ro" in view["mounts"][sub]


def test_proc_hides_the_machine(view: dict) -> None:
    assert "ro" in view["mounts"]["/proc/sys"]
    for name in PROC_MASKED:
        if os.path.exists(f"/proc/{name}"):
            assert f"/proc/{name}" in view["mounts"], name  # something is mounted over it
            assert view["proc"][name] in ("", [], "PermissionError"), (name, view["proc"][name])


def test_the_kernel_has_its_own_cgroup_namespace(view: dict) -> None:
    assert view["cgroup"] and all(line.endswith(":/") for line in view["cgroup"]), view["cgroup"]


def test_the_environment_is_an_allow_list(view: dict) -> None:
    env = view["env"]
    assert "MY_COURSE_PATH" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert "/secret" not in json.dumps(env) and "sekret" not in json.dumps(env)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "3" and env["LC_ALL"] == "C.UTF-8" and env["UNET_DATA_DIR"]
    assert env["HOME"].endswith("/box/home") and env["PATH"]


def test_the_allow_list_still_drops_secret_looking_names() -> None:
    kept = sandbox.kernel_env({"PATH": "/usr/bin", "TF_API_TOKEN": "x", "PYTHONPATH": "/kit", "OTHER": "y"},
                              only_allowed=True)
    assert kept == {"PATH": "/usr/bin", "PYTHONPATH": "/kit"}


# --- the waiter dies with its parent -----------------------------------------------------------------------------


@pytest.fixture
def ordinary_user(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A fresh user without a home, and a 0755 folder of theirs holding a copy of the launcher."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs root, useradd and runuser to act as an ordinary user")
    name = f"agh{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    folder = Path("/srv") / f"{name}-work"
    folder.mkdir(mode=0o755)
    try:
        for module in ("launch.py", "view.py", "syscalls.py"):
            shutil.copyfile(SANDBOX_DIR / module, folder / module)
        subprocess.run(["chown", "-R", f"{name}:{name}", str(folder)], check=True)
        yield name, folder
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", name], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@needs_root
def test_the_waiter_and_kernel_die_with_the_waiters_parent_without_root(ordinary_user: tuple[str, Path]) -> None:
    """As an ordinary user (user namespace path): SIGKILL the process that started the launcher; the waiter
    (the launcher's own process) and the kernel inside must go too."""
    import psutil

    user, folder = ordinary_user
    box = folder / "box"
    box.mkdir()
    policy = Policy(uid=0, gid=0, workdir=str(box), rw=[str(box)], private_tmp=["/tmp", "/var/tmp", "/dev/shm"],
                    tmp_size_mb=8, env_keep="PATH", env_set={"HOME": str(box)})
    policy.write(folder / "policy.json")
    subprocess.run(["chown", "-R", f"{user}:{user}", str(folder)], check=True)
    parent_code = ("import subprocess, sys, time\n"
                   f"p = subprocess.Popen(['/usr/bin/python3', '-I', {str(folder / 'launch.py')!r}, "
                   f"{str(folder / 'policy.json')!r}, '--', '/usr/bin/sleep', '300'])\n"
                   "print(p.pid, flush=True)\ntime.sleep(300)\n")
    parent = subprocess.Popen(["runuser", "-u", user, "--", "/usr/bin/python3", "-c", parent_code],
                              stdout=subprocess.PIPE, text=True)
    try:
        waiter_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
        waiter = psutil.Process(waiter_pid)
        deadline = time.monotonic() + 30
        while not [c for c in waiter.children() if c.name() == "sleep"] and time.monotonic() < deadline:
            time.sleep(0.1)
        kernel = next(c for c in waiter.children() if c.name() == "sleep")
        assert waiter.uids().real != 0 and kernel.uids().real == waiter.uids().real
        starter = next(p for p in psutil.Process(parent.pid).children(recursive=True) if p.pid == waiter.ppid())
        starter.send_signal(signal.SIGKILL)  # the process that started the launcher (Jupyter, in real life)
        gone, alive = psutil.wait_procs([waiter, kernel], timeout=20)
        assert alive == [], f"still running: {alive}"
    finally:
        parent.kill()
        parent.wait()


# --- GPUs --------------------------------------------------------------------------------------------------------


def _fake_devices(folder: Path) -> Path:
    dev = folder / "dev"
    dev.mkdir()
    for name in ("null", "zero", "nvidia0", "nvidia1", "nvidia2", "nvidia3", "nvidiactl", "nvidia-uvm",
                 "nvidia-uvm-tools", "nvidia-modeset", "nvidia-caps-x"):
        (dev / name).write_text("")
    return dev


@needs_root
def test_a_kernel_gets_only_the_gpu_nodes_of_its_slot(tmp_path: Path) -> None:
    """A fake device folder with four GPUs: the slot given GPU 2 sees nvidia2 and the shared control nodes only;
    a slot given none sees no nvidia node."""
    dev = _fake_devices(tmp_path)
    results = {}
    for label, gpus in (("two", [2]), ("none", [])):
        new = tmp_path / f"new-{label}"
        new.mkdir()
        program = _launcher_module() + (
            f"launch._dev('', {str(new)!r}, 1, {gpus!r}, dev_dir={str(dev)!r})\n"
            f"import os; print(sorted(n for n in os.listdir({str(new / 'dev')!r}) if n.startswith('nvidia')))\n")
        done = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-I", "-c", program],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        results[label] = done.stdout.strip()
    assert results == {"two": str(["nvidia-modeset", "nvidia-uvm", "nvidia-uvm-tools", "nvidia2", "nvidiactl"]),
                       "none": "[]"}


def test_cuda_sees_the_slots_gpus_by_their_uuid_or_in_order(tmp_path: Path) -> None:
    """CUDA numbers only the cards a kernel can open, so the kernel's CUDA_VISIBLE_DEVICES names its cards by the
    driver's UUIDs (or 0..n-1 where the driver lists none)."""
    exec_globals: dict = {}
    exec(_launcher_module(), exec_globals)
    launch = exec_globals["launch"]
    driver = tmp_path / "gpus"
    for minor, bus in ((0, "0000:01:00.0"), (2, "0000:03:00.0")):
        (driver / bus).mkdir(parents=True)
        (driver / bus / "information").write_text(f"Model: \t\t Fake\nGPU UUID: \t GPU-{minor}aaa\nDevice Minor: \t {minor}\n")
    assert launch.cuda_visible_devices([2], driver_dir=str(driver)) == "GPU-2aaa"
    assert launch.cuda_visible_devices([2, 0], driver_dir=str(driver)) == "GPU-2aaa,GPU-0aaa"
    assert launch.cuda_visible_devices([1, 3], driver_dir=str(tmp_path / "none")) == "0,1"
    assert launch.cuda_visible_devices([], driver_dir=str(driver)) == ""


def test_slots_share_the_machines_gpus_round_robin(tmp_path: Path) -> None:
    dev = _fake_devices(tmp_path)
    assert [sandbox.slot_gpus(slot, dev_dir=str(dev)) for slot in range(5)] == [[0], [1], [2], [3], [0]]
    assert sandbox.slot_gpus(0, dev_dir=str(tmp_path / "missing")) == []
    rules = sandbox.policy(limits=Autograder().limits(), slot=1, box=tmp_path / "box", cgroup_procs=[], uid=63993,
                           gpus=[3])
    assert rules.gpus == [3]
    assert Policy.from_json(rules.to_json()) == rules


@pytest.mark.parametrize("field,value", [("gpus", [-1]), ("gpus", ["0"]), ("gpus", 2), ("env_keep", "PATH|("),
                                         ("env_keep", 5)])
def test_hostile_policy_fields_are_refused(field: str, value: object) -> None:
    data = Policy(uid=61000, gid=61000, workdir="/tmp/box/work").to_json()
    data[field] = value
    with pytest.raises(ContractError, match=field):
        Policy.from_json(data, "policy.json")
