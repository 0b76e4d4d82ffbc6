"""Grading workers forked from one server that has already imported what every submission needs.

A worker started with ``python -m autograder.run.worker`` spends about 3 s importing nbgrader,
nbconvert and jsonschema, and its kernel as long again importing ipykernel and TensorFlow.
Here one server process per grading run (``python -m autograder.run.forkserver``, which is the server's side) imports all of
that once, then forks a worker per submission; the imported code is shared copy-on-write, and
each worker forks its warm kernel from there (:mod:`autograder.run.warm`).

The server talks JSON lines over its stdin/stdout: ``{"job": PATH, "warm": BOOL}`` in,
``{"pid": N}`` back, and ``{"exit": N, "code": C}`` when a worker ends. It runs with a scrubbed
environment (a kernel forked from it must not find the instructor's secrets in its own memory);
the worker reads its full environment from a root-only file after its kernel has been forked.
The server stops when the grading process closes its stdin or dies.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from autograder.course.directory import tools_path

#: Always imported by the server: the worker's own stack and the kernel's.
BASE_PRELOAD = ["autograder.run.worker", "autograder.run.warm", "autograder.run.nbhooks", "nbgrader.converters",
                "nbgrader.preprocessors", "nbgrader.api", "nbclient", "jupyter_client", "ipykernel.kernelapp",
                "ipykernel.ipkernel"]
_MAGIC = re.compile(r"^\s*[%!]")
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class ForkServerError(RuntimeError):
    """The server could not start a worker (it is gone or did not answer)."""


def notebook_imports(folder: Path) -> list[str]:
    """Modules the notebooks in ``folder`` import that are installed packages (not course files)."""
    names: dict[str, None] = {}
    for path in sorted(folder.glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):  # an unreadable notebook only means nothing to preload
            continue
        for cell in cells:
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            text = cell.get("source", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            source = "\n".join("" if _MAGIC.match(line) else line for line in text.splitlines())
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update((alias.name, None) for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names[node.module] = None
    return [n for n in names if _installed(n.split(".")[0])]


def _installed(top: str) -> bool:
    """Whether ``top`` comes from the Python installation (stdlib or site-packages)."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    origin = spec.origin or ""
    if origin in ("built-in", "frozen"):
        return True
    prefixes = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return any(os.path.realpath(origin).startswith(p + os.sep) for p in prefixes)


def worker_env() -> dict[str, str]:
    """A worker's environment: this one, with the kit importable and the interpreter's scripts first."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))}
    env["PATH"] = tools_path(env.get("PATH", ""))
    return env


def for_assignment(root: Path, assignment: str, parallel: int) -> "Server":
    """Start the fork server for grading ``assignment`` of the course at ``root`` with ``parallel`` jobs.

    Its environment is the worker's without secrets, plus the kernels' plotting backend and thread
    caps, which the preloaded libraries read when they are imported.
    """
    from autograder.sandbox import limits as sandbox

    threads = str(sandbox.threads_per_job(parallel))
    env = {**sandbox.kernel_env(worker_env()), "MPLBACKEND": "Agg", **{k: threads for k in sandbox.THREAD_ENV}}
    return Server(preload=notebook_imports(Path(root) / "release" / assignment), env=env)


class Server:
    """The grading process's handle on its fork server."""

    def __init__(self, *, preload: list[str], env: dict[str, str], start_timeout: float = 600) -> None:
        modules = ",".join(dict.fromkeys(BASE_PRELOAD + preload))
        self._proc = subprocess.Popen([sys.executable, "-P", "-m", "autograder.run.forkserver"], cwd="/",
                                      env={**env, "AUTOGRADER_PRELOAD": modules}, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, start_new_session=True)
        os.set_blocking(self._proc.stdout.fileno(), False)  # type: ignore[union-attr]
        self._buffer = b""
        self._codes: dict[int, int] = {}
        self._start_timeout = start_timeout

    def fork(self, job_file: Path, *, warm: bool = True) -> "Forked":
        """Fork a worker for ``job_file``; waits while the server is still importing (first call)."""
        try:
            self._proc.stdin.write(json.dumps({"job": str(job_file), "warm": warm}).encode() + b"\n")  # type: ignore[union-attr]
            self._proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError) as exc:
            raise ForkServerError(f"the fork server is gone ({exc})") from None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            for message in self._read(timeout=0.5):
                if "pid" in message:
                    return Forked(self, int(message["pid"]))
            if self._proc.poll() is not None:
                raise ForkServerError(f"the fork server exited with code {self._proc.returncode}")
        raise ForkServerError(f"the fork server did not answer within {self._start_timeout:g} s")

    def exit_code(self, pid: int) -> int | None:
        """The worker's exit code once the server has reaped it."""
        if pid not in self._codes:
            for _ in self._read(timeout=0):
                pass
        if pid not in self._codes and self._proc.poll() is not None:
            return -signal.SIGKILL  # the server died: so did its workers
        return self._codes.get(pid)

    def _read(self, timeout: float) -> list[dict]:
        """Messages available now (within ``timeout``); exit reports are recorded as they come."""
        stdout = self._proc.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        if ready:
            chunk = stdout.read() or b""
            self._buffer += chunk
        lines, _, self._buffer = self._buffer.rpartition(b"\n")
        messages = [json.loads(line) for line in lines.split(b"\n") if line.strip()]
        for m in messages:
            if "exit" in m:
                self._codes[int(m["exit"])] = int(m["code"])
        return messages

    def close(self) -> None:
        """Stop the server (it kills any worker still running)."""
        try:
            self._proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:  # still importing, so not reading its stdin: its workers die with it
            self._proc.kill()
            self._proc.wait(timeout=10)


class Forked:
    """A worker forked by the server, with the part of ``subprocess.Popen`` the scheduler uses."""

    def __init__(self, server: Server, pid: int) -> None:
        self._server = server
        self.pid = pid

    def poll(self) -> int | None:
        """Exit code (negative: killed by that signal), None while it runs."""
        return self._server.exit_code(self.pid)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            time.sleep(0.05)
        return code

    def kill(self) -> None:
        """SIGKILL the worker."""
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
