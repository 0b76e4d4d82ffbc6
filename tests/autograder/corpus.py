"""The hostile and broken submissions of the toy assignment, shared by the process and container grading tests."""
from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from pathlib import Path
from typing import Iterator

import nbformat

import toy

GOOD_MARK = "UNIQUE-GOOD-ANSWER-31337"
#: Put in the grading process's environment by the tests; no kernel may find it anywhere in its reach.
SNOOP_SECRET = "AGSECRET" + "0c9b2f6e41d87a53" * 2
SNOOP_ENV = "AUTOGRADER_TEST_TOKEN"


def _replace(grade_id: str, source: str):
    def edit(nb: nbformat.NotebookNode) -> None:
        for c in nb.cells:
            if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                c.source = source
    return edit


def _delete(grade_id: str):
    def edit(nb: nbformat.NotebookNode) -> None:
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return edit


@contextlib.contextmanager
def listener() -> Iterator[tuple[int, list[object]]]:
    """A TCP server on 127.0.0.1 that records every connection: (its port, the connections so far).

    The network case dials it; no sandboxed kernel may ever reach it.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.5)
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():  # bounded by the 0.5 s accept timeout and the stop flag
            try:
                connections.append(server.accept())
            except OSError:
                pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], connections
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def corpus(root: Path, port: int) -> dict[str, tuple[str, float]]:
    """Write every case; return student -> (expected status, expected score)."""
    sq, add = toy.CORRECT["square"], toy.CORRECT["add"]
    gb_path = root / "gradebook.db"
    expected: dict[str, tuple[str, float]] = {}

    def case(student: str, status: str, score: float, answers: dict | None = None, **kw) -> None:
        toy.submit(root, student, answers, **kw)
        expected[student] = (status, score)

    case("good_full", "graded", 6, {"square": f"# {GOOD_MARK}\n{sq}", "add": add})
    case("good_partial", "graded", 2, {"square": sq, "add": "def add(a, b):\n    return a - b"})
    case("good_blank", "graded", 0)
    case("bad_json", "invalid_notebook", 0, raw=b'{"cells": [')
    case("bad_empty", "invalid_notebook", 0, raw=b"")
    case("bad_name", "no_notebook", 0, toy.CORRECT, name="toy-final.ipynb")
    case("bad_other_assignment", "wrong_assignment", 0, raw=nbformat.writes(toy.source_notebook(prefix="hw2_")).encode())
    case("edited_tests", "restored", 3, {"square": sq, "add": "def add(a, b):\n    return 0"}, edit=_replace("test_add", "pass"))
    case("deleted_tests", "restored", 6, toy.CORRECT, edit=_delete("test_add_2"))
    case("loop", "timeout", 2, {"square": sq, "add": "while True:\n    pass"})
    case("exit", "kernel_died", 0, {"square": "import os\nos._exit(1)", "add": add})
    case("memory", "memory", 0, {"square": "x = b'x' * (3 * 2**30)\n" + sq, "add": add})
    # The flood comes after the definition and ends only when the grader interrupts it (past the output cap), so the
    # score is the same however late the interrupt lands on a loaded machine (run 1 of the fresh-machine series: the
    # flood's end raced the interrupt, and the next cell waited past its limit); no interrupt: the cell's time limit.
    case("huge_output", "huge_output", 6, {"square": sq + "\nfor i in range(100000):\n    print(i)\n"
                                           "print('y' * 5_000_000)\nimport time\ntime.sleep(3600)\n", "add": add})
    case("rebind", "graded", 4, {"square": "def square(x):\n    return 0\nimport builtins\nbuiltins.AssertionError = Exception\n"
                                 "get_ipython().showtraceback = lambda *a, **k: None\nassert False", "add": add})
    case("gradebook_writer", "graded", 6, {"square": sq, "add": add + f"""
import sqlite3
for p in [{str(gb_path)!r}, '../../../gradebook.db']:
    try:
        con = sqlite3.connect(p); con.execute('UPDATE grade SET auto_score = 99'); con.commit(); print('WROTE', p)
    except Exception as e:
        print('blocked', p, type(e).__name__)
"""})
    case("reader", "graded", 6, {"square": sq, "add": add + f"""
import glob, os
leaks, files = 0, 0
for pattern in [{str(root)!r} + '/**', '../**', '../../**', '/tmp/**', os.path.expanduser('~') + '/../**']:
    for f in glob.glob(pattern, recursive=True)[:5000]:
        try:
            text = open(f, errors='ignore').read() if os.path.isfile(f) else ''
        except Exception:
            continue
        files += 1
        leaks += ('HIDDEN' + ' TESTS') in text or ('UNIQUE-GOOD' + '-ANSWER') in text or ('toy-' + 'course') in text
print('FILES', files, 'LEAKS', leaks)
"""})
    case("network", "graded", 6, {"square": sq, "add": add + f"""
import socket
for addr in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:
    try:
        socket.create_connection(addr, timeout=2); print('CONNECTED', addr)
    except OSError as e:
        print('no network', addr, e.errno)
"""})
    # The snooper knows only the secret's hash and shape, so its own code never holds the secret.
    digest = hashlib.sha256(SNOOP_SECRET.encode()).hexdigest()
    case("snooper", "graded", 6, {"square": sq, "add": add + f"""
import hashlib, os, re
pattern = re.compile(rb'AGSEC' + rb'RET[0-9a-f]{{32}}')
def leaked(blob):
    return any(hashlib.sha256(m.group()).hexdigest() == {digest!r} for m in pattern.finditer(blob))
print('ENV', 'LEAK' if leaked(repr(dict(os.environ)).encode()) else 'clean')
try:
    print('PROC-ENV', 'LEAK' if leaked(open('/proc/self/environ', 'rb').read()) else 'clean')
except PermissionError:
    print('PROC-ENV unreadable')
import ctypes
hits, scanned = 0, 0
with open('/proc/self/maps') as maps:
    for line in maps:
        fields = line.split()
        start, end = (int(x, 16) for x in fields[0].split('-'))
        name = fields[5] if len(fields) > 5 else ''
        # anonymous memory, the heap and the stack (where a process's environment strings live)
        if 'r' not in fields[1] or name not in ('', '[heap]', '[stack]'):
            continue
        for offset in range(start, end, 2**24):  # 16 MiB at a time, overlapping by the secret's length
            blob = ctypes.string_at(offset, min(2**24 + 64, end - offset))
            scanned += len(blob)
            hits += leaked(blob)
print('MEMORY', 'LEAK' if hits else 'clean', scanned > 2**20)
inherited = []
for fd in os.listdir('/proc/self/fd'):
    try:
        target = os.readlink('/proc/self/fd/' + fd)
    except OSError:
        continue
    # stdout and stderr go to the worker's log, as for any kernel Jupyter starts
    if target.startswith('/') and not target.startswith(('/dev/', '/proc/', os.getcwd(), os.path.expanduser('~'))) \
            and not target.endswith('/worker.log'):
        inherited.append(target)
print('FDS', inherited)
"""})
    case("forker", "graded", 6, {"square": sq, "add": add + """
import os, signal, time
pids = []
for i in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    pids.append(pid)
print('FORKED', len(pids))
for pid in pids:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
"""})
    return expected


def outputs(root: Path, student: str) -> str:
    nb = nbformat.read(root / "autograded" / student / "toy" / "toy.ipynb", as_version=4)
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", "")) for c in nb.cells for o in c.get("outputs", []))


