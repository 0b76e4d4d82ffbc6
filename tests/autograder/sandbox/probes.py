"""Hostile submissions that probe the kernel's sandbox from inside, as a student would, and what they found.

Each probe answers the toy assignment correctly (so it earns full marks as code) and prints one line per
attempt: ``PROBE <name> BLOCKED`` or ``PROBE <name> OPEN <what it reached>``. The ``cheat`` probe takes its
``square`` from the instructor's source notebook, so it scores the points only where that notebook can be
read. Controls in the same batch (``honest``, ``partial``) must keep their own grades.
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import toy
from corpus import outputs

SQ, ADD = toy.CORRECT["square"], toy.CORRECT["add"]
PROBE_LINE = re.compile(r"PROBE (\w+) (BLOCKED|OPEN)(.*)")
#: System calls the kernel's filter refuses, tried as a student would (``hardening_probe.py``): on every path.
SYSCALLS = ("keyctl", "unshare_user", "clone_user", "io_uring_setup", "perf_event_open", "userfaultfd", "ptrace")
SYSCALL_PROBES = tuple(f"sys_{name}" for name in SYSCALLS)
#: What the launcher's own view hides (a container's is Docker's business): /proc, cgroups, mount flags.
VIEW_PROBES = ("proc_masks", "cgroup_ns", "mount_flags")


@dataclass
class Targets:
    """What the probes try to reach: the course, the kit's own checkout, another checkout, host sockets."""

    course: Path
    kit: Path
    other_checkout: Path
    sockets: list[str]
    marker: str  # unique per run: a lingering process or a written file carries it
    sentinel: str  # the cmdline of a process of the grading user the kernel must not see
    extra_files: list[Path] = field(default_factory=list)  # e.g. the container's own private files


def _files_probe(name: str, paths: list[Path]) -> str:
    return f"""
import os
reached = []
for p in {[str(p) for p in paths]!r}:
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            open(p, 'rb').read(64)
        reached.append(p)
    except OSError:
        pass
print('PROBE {name}', 'OPEN ' + ' '.join(reached) if reached else 'BLOCKED')
"""


def write_corpus(t: Targets) -> dict[str, tuple[str, float]]:
    """Write the probes and controls as submissions of the toy course; return student -> (status, score)."""
    c, k, o = t.course, t.kit, t.other_checkout
    probes = {
        "course_files": _files_probe("course_files", [
            c / "gradebook.db", c / "source" / "toy" / "toy.ipynb", c / "nbgrader_config.py", c / "source",
            c / "submitted" / "honest" / "toy" / "toy.ipynb", c / "submitted", c / "autograded", c / "release"]),
        "other_checkout": _files_probe("other_checkout", [
            k / "source" / "unet" / "Image_segmentation_Unet.ipynb", k / "autograder" / "run" / "judge" / "references.py",
            k / "references" / "unet" / "Image_segmentation_Unet.json", k / "references", k / "nbgrader_config.py",
            k / ".git", o / "source" / "unet" / "Image_segmentation_Unet.ipynb",
            o / "autograder" / "run" / "judge" / "references.py", o / "references" / "unet" / "Image_segmentation_Unet.json"]),
        "grader_files": _files_probe("grader_files", t.extra_files),
        "import_grader": """
import sys
got = []
for name in ('autograder', 'autograder.run.judge.references'):
    try:
        __import__(name); got.append(name)
    except Exception:
        pass
got += [m for m in sys.modules if m == 'autograder' or m.startswith('autograder.')]
print('PROBE import_grader', 'OPEN ' + ' '.join(sorted(set(got))) if got else 'BLOCKED')
""",
        "processes": f"""
import os
seen, environ = [], []
me = os.getuid()
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        cmd = open(f'/proc/{{pid}}/cmdline', 'rb').read().replace(b'\\0', b' ').decode(errors='replace')
        uid = int(next(l for l in open(f'/proc/{{pid}}/status') if l.startswith('Uid:')).split()[1])
    except (OSError, StopIteration, ValueError):
        continue
    if {t.sentinel!r} in cmd:
        seen.append(pid)
    if uid != me:
        try:
            open(f'/proc/{{pid}}/environ', 'rb').read(16); environ.append(pid)
        except OSError:
            pass
print('PROBE proc_sentinel', 'OPEN ' + ' '.join(seen) if seen else 'BLOCKED')
print('PROBE proc_environ', 'OPEN ' + ' '.join(environ) if environ else 'BLOCKED')
""",
        "sockets": f"""
import glob, os, socket, stat
paths = {t.sockets!r}
for folder in ('/run', '/var/run', '/tmp', '/var/tmp', '/dev/shm'):
    for p in glob.glob(folder + '/**', recursive=True)[:2000]:
        try:
            if stat.S_ISSOCK(os.lstat(p).st_mode):
                paths.append(p)
        except OSError:
            pass
box = os.path.dirname(os.getcwd())  # the kernel's own folder: its Jupyter channels live there
reached = []
for p in [p for p in paths if not p.startswith(box + '/')] + ['\\0agprobe-{t.marker}']:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(p); reached.append(p.replace('\\0', '@'))
    except OSError:
        pass
    finally:
        s.close()
print('PROBE sockets', 'OPEN ' + ' '.join(reached) if reached else 'BLOCKED')
""",
        "write_outside": f"""
import os, sys, test_utils
wrote = []
for folder in {[str(c), str(c / 'release'), str(k), str(o)]!r} + [sys.prefix, os.path.dirname(test_utils.__file__)]:
    p = os.path.join(folder, 'pwned-{t.marker}')
    try:
        with open(p, 'w') as fh:
            fh.write('x')
        wrote.append(os.path.abspath(p))
    except OSError:
        pass
open('/tmp/pwned-{t.marker}', 'w').write('x')  # the kernel's own /tmp: allowed, never the machine's
print('PROBE write_outside', 'OPEN ' + ' '.join(wrote) if wrote else 'BLOCKED')
""",
        "linger": f"""
import os, subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(900)', 'linger-{t.marker}'], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(900)', 'linger-{t.marker}'])
    os._exit(0)
print('PROBE linger started')
""",
        "syscalls": f"""
found = {{}}
exec(compile({(Path(__file__).with_name("hardening_probe.py")).read_text()!r}, 'hardening_probe', 'exec'), found)
for name in {SYSCALLS!r}:
    print('PROBE sys_' + name, 'BLOCKED' if found['found'][name] != 'ok' else 'OPEN ' + name)
""",
        "hidden_machine": """
import os
shown = []
for p in ('/proc/keys', '/proc/timer_list', '/proc/kcore', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus'):
    try:
        if (os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(16)):
            shown.append(p)
    except OSError:
        pass
mounts = [line.split() for line in open('/proc/self/mountinfo')]
if not any(m[4] == '/proc/sys' and 'ro' in m[5].split(',') for m in mounts):
    shown.append('/proc/sys (writable mount)')
print('PROBE proc_masks', 'OPEN ' + ' '.join(shown) if shown else 'BLOCKED')
outside = [line for line in open('/proc/self/cgroup').read().splitlines() if not line.endswith(':/')]
print('PROBE cgroup_ns', 'OPEN ' + ' '.join(outside) if outside else 'BLOCKED')
loose = [m[4] for m in mounts if 'nosuid' not in m[5].split(',')]
print('PROBE mount_flags', 'OPEN ' + ' '.join(loose) if loose else 'BLOCKED')
""",
    }
    expected: dict[str, tuple[str, float]] = {}
    toy.submit(c, "honest", toy.CORRECT)
    expected["honest"] = ("graded", 6)
    toy.submit(c, "partial", {"square": SQ, "add": "def add(a, b):\n    return a - b"})
    expected["partial"] = ("graded", 2)
    for student, code in probes.items():
        toy.submit(c, student, {"square": SQ + "\n" + code, "add": ADD})
        expected[student] = ("graded", 6)
    cheat = f"""
import json
def square(x):
    return None
for p in {[str(c / 'source' / 'toy' / 'toy.ipynb'), str(o / 'source' / 'toy' / 'toy.ipynb')]!r}:
    try:
        cells = json.load(open(p))['cells']
    except OSError:
        continue
    exec(next(''.join(x['source']) for x in cells if 'def square' in ''.join(x['source'])))
    print('PROBE cheat OPEN', p)
    break
else:
    print('PROBE cheat BLOCKED')
"""
    toy.submit(c, "cheat", {"square": cheat, "add": ADD})
    expected["cheat"] = ("graded", 4)
    return expected


def findings(course: Path, students: list[str]) -> dict[str, str]:
    """``probe name -> BLOCKED | OPEN ...`` over the probes' graded notebooks."""
    found: dict[str, str] = {}
    for student in students:
        for m in PROBE_LINE.finditer(outputs(course, student)):
            found[m.group(1)] = (m.group(2) + m.group(3)).strip()
    return found


@contextlib.contextmanager
def unix_listener(folder: Path, marker: str) -> Iterator[tuple[list[str], list[object]]]:
    """A world-connectable UNIX socket in ``folder`` and an abstract one: a host service no kernel may reach."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    path = folder / "service.sock"
    servers, connections = [], []
    for address in (str(path), f"\0agprobe-{marker}"):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(address)
        server.listen(16)
        server.settimeout(0.2)
        servers.append(server)
    os.chmod(path, 0o777)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            for server in servers:
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                connections.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield [str(path)], connections
    finally:
        stop.set()
        thread.join(timeout=5)
        for server in servers:
            server.close()
        path.unlink(missing_ok=True)


def lingering(marker: str) -> list[int]:
    """Processes anywhere on the machine that a probe started and that outlived its kernel."""
    import psutil

    left = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(f"linger-{marker}" in part for part in (proc.info["cmdline"] or [])):
            left.append(proc.pid)
    return left
