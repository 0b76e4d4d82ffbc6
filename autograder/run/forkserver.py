"""The fork server itself: import what every submission needs, then fork a worker per request.

Started by :class:`autograder.host.forkserver.Server` as ``python -P -m autograder.run.forkserver``
with the modules to import in ``AUTOGRADER_PRELOAD``. It talks JSON lines over stdin/stdout
(``{"job": PATH, "warm": BOOL}`` in; ``{"pid": N}`` and ``{"exit": N, "code": C}`` out) and stops
when its stdin closes or the grading process dies. It runs beside student code (its children
become workers and kernels), so it imports nothing from :mod:`autograder.host`.
"""
from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import sys
import traceback

from autograder.sandbox.launch import die_with_parent


def _send(message: dict) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def _child(request: dict) -> None:
    """In the forked worker: run it, and never return into the server's loop."""
    code = 1
    try:
        from autograder.run import worker

        code = worker.forked_main(request["job"], bool(request.get("warm", True)))
    except BaseException:  # noqa: BLE001 - whatever happens, the server's loop must not run here
        os.write(2, traceback.format_exc().encode(errors="replace"))  # fd 2: sys.stderr may be anyone's
    finally:
        os._exit(code)


def main() -> None:
    """The server: import the preload list, then fork a worker per request until stdin closes."""
    die_with_parent()  # and a closed stdin stops it too
    for name in filter(None, os.environ.pop("AUTOGRADER_PRELOAD", "").split(",")):
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - preloading only saves time; where it is used, the import runs again
            # said once on the grading run's stderr: this module will be imported by every worker (a slower run)
            sys.stderr.write(f"warning: the fork server could not preload {name} ({type(error).__name__}: "
                             f"{str(error).splitlines()[0][:200] if str(error) else ''}); each worker imports it\n")
    gc.freeze()  # keep the imported objects out of the collector, so that forks do not copy their pages
    children: set[int] = set()
    buffer = b""
    while True:
        ready, _, _ = select.select([0], [], [], 0.05)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                pid = os.fork()
                if pid == 0:
                    _child(json.loads(line))
                children.add(pid)
                _send({"pid": pid})
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            children.discard(pid)
            _send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    main()
