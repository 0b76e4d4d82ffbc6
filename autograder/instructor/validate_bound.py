"""The lab's **Validate**, bounded: a Jupyter server extension that stands in for nbgrader's ``validate_assignment``.

nbgrader's own handler runs the whole notebook inside the request, on the server's only event-loop thread, with
no limit for the whole run: each cell may take ``ExecutePreprocessor.timeout`` seconds (300 in the kit, and 20
code cells make 100 minutes), a kernel that stops answering is waited on for that long per cell, and while it runs
the lab itself (saving, the student's own kernel, every other request) is frozen. A Validate pressed on a busy
server could leave the student looking at a spinner for as long as the server lived.

Here each press starts :mod:`autograder.instructor.validate_run` in a process of its own (nbgrader's Validator and
the course's ``nbgrader_config.py``, exactly as before) and the server waits for it without blocking. The run has
two limits: the kernel must start within ``ExecutePreprocessor.startup_timeout`` (plus a margin for the imports),
then the cells must finish within ``c.ValidateBound.total_timeout`` seconds (when that is 0: the per-cell limit
times the notebook's code cells). Past either, the run and its kernel are killed and the dialog names the cell
that was still running, the limit, and what to do. The answers keep nbgrader's format, so nbgrader's own
JupyterLab Validate button shows them.

``python -m autograder lab`` switches this extension on and nbgrader's ``validate_assignment`` off
(:mod:`autograder.instructor.lab`); the ``/nbgrader_version`` check the button makes first is served here too.
"""
from __future__ import annotations

import asyncio
import html
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traitlets import Float
from traitlets.config import Configurable

__all__ = ["ValidateBound", "Bound", "bound_for", "stopped_answer", "run_bounded"]

IMPORT_MARGIN_S = 30.0
"""Seconds the validating process may take to start Python and import nbgrader before the kernel's own limit."""
NO_CELL_LIMIT_S = 3600.0
"""The whole run's limit when the course sets neither a per-cell limit nor ``ValidateBound.total_timeout``."""
POLL_S = 0.25


class ValidateBound(Configurable):
    """The Validate button's limit for a whole notebook (``c.ValidateBound.total_timeout`` in nbgrader_config.py)."""

    total_timeout = Float(0.0, help="Seconds all the cells of one Validate may take together, counted from the "
                                    "moment its kernel has started; past it the run and its kernel are stopped. "
                                    "0: the per-cell limit (ExecutePreprocessor.timeout) times the code cells."
                          ).tag(config=True)


@dataclass(frozen=True)
class Bound:
    """The limits of one Validate, in seconds."""

    startup: float  # for the kernel to start (nbgrader's startup_timeout)
    cells: float  # for every cell together, once the kernel has started
    cell: float | None  # for one cell (nbgrader's timeout), None when the course sets none


def _code_cells(notebook: Path) -> int:
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return 1
    return max(1, sum(1 for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"))


def bound_for(notebook: Path, config: Any) -> Bound:
    """The limits of a Validate of ``notebook`` under nbgrader ``config`` (the course's nbgrader_config.py)."""
    from nbgrader.preprocessors import Execute

    execute = Execute(config=config)
    cell = float(execute.timeout) if execute.timeout and execute.timeout > 0 else None
    total = float(ValidateBound(config=config).total_timeout)
    if total <= 0:
        total = cell * _code_cells(notebook) if cell else NO_CELL_LIMIT_S
    return Bound(startup=float(execute.startup_timeout), cells=total, cell=cell)


def _read_progress(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def stopped_answer(bound: Bound, progress: dict[str, Any], notebook: Path) -> dict[str, Any]:
    """The dialog's answer for a Validate stopped at its limit: the cell that was running and what to do."""
    per_cell = f" (and {bound.cell:g} s for any one cell)" if bound.cell else ""
    if not progress.get("kernel"):
        source = "(no cell ran: the kernel that runs your notebook did not start)"
        words = (f"Validate stopped: the kernel that runs {notebook.name} did not start within {bound.startup:g} "
                 "seconds, so no cell was checked. The server is probably busy; wait a minute and press Validate "
                 "again. If this keeps happening, tell your instructor.")
    else:
        source = str(progress.get("source") or "(the kernel had started; no cell had begun)")
        where = f"cell {int(progress['cell']) + 1} of the notebook" if isinstance(progress.get("cell"), int) else "it"
        words = (f"Validate stopped: {notebook.name} ran past its limit of {bound.cells:g} seconds for all its cells "
                 f"together{per_cell}, and {where} (shown above) was still running. Its kernel was stopped, so "
                 "nothing of this run was checked. Look in that cell for a loop that never ends, a wait that never "
                 "returns, or work much longer than the exercise asks (more epochs, more data); fix it, check that "
                 "Run All finishes in your own kernel, then press Validate again.")
    return {"success": True, "value": {"failed": [{"source": source, "error": html.escape(words), "raw_error": words}]}}


def _kill_tree(pid: int) -> list[int]:
    """SIGKILL the process ``pid`` and everything below it (its kernel, the kernel's children); their pids."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return []
    for proc in procs:
        if proc.pid != pid:  # a kernel leaves its connection file behind when killed; remove it (it holds its key)
            _remove_connection_file(proc)
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)
    return [p.pid for p in procs]


def _remove_connection_file(proc: Any) -> None:
    """Remove the connection file (``-f FILE``, with the kernel's key) of a kernel about to be killed."""
    import psutil

    try:
        argv = proc.cmdline()
    except psutil.Error:
        return
    for flag, value in zip(argv, argv[1:]):
        if flag != "-f" or not value.endswith(".json"):
            continue
        path = Path(value)
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and {"key", "shell_port", "transport"} <= set(info):
            path.unlink(missing_ok=True)


async def run_bounded(notebook: Path, *, cwd: Path, config: Any, log: Any) -> dict[str, Any]:
    """Validate ``notebook`` in a process of its own within its :class:`Bound`; the dialog's answer."""
    bound = bound_for(notebook, config)
    with tempfile.TemporaryDirectory(prefix="unet-validate-") as scratch:
        progress, result = Path(scratch) / "progress.json", Path(scratch) / "result.json"
        argv = [sys.executable, "-m", "autograder.instructor.validate_run", str(notebook), str(progress), str(result)]
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        kernel_at: float | None = None
        while proc.poll() is None:
            await asyncio.sleep(POLL_S)
            now = time.monotonic()
            state = _read_progress(progress)
            if kernel_at is None and state.get("kernel"):
                kernel_at = now
            deadline = (started + bound.startup + IMPORT_MARGIN_S) if kernel_at is None else kernel_at + bound.cells
            if now > deadline and proc.poll() is None:
                killed = _kill_tree(proc.pid)
                proc.wait()
                running = ("the kernel's start" if kernel_at is None else
                           f"cell {state['cell'] + 1}" if isinstance(state.get("cell"), int) else "no cell yet")
                log.warning("Validate of %s stopped at its limit while %s was running; killed pids %s", notebook,
                            running, killed)
                return stopped_answer(bound, state, notebook)
        answer = _read_progress(result)
        if "success" not in answer:
            return {"success": False, "value": f"Validate could not run {notebook.name} (its process ended with "
                                               f"status {proc.returncode}); the lab's log says why."}
        return answer


def _handlers() -> list[tuple[str, Any]]:
    from jupyter_server.base.handlers import JupyterHandler
    from nbgrader.server_extensions.validate_assignment.handlers import NbGraderVersionHandler
    from tornado import web

    from autograder.instructor.validate_run import load_course_config

    class BoundedValidateHandler(JupyterHandler):
        """``POST /assignments/validate?path=...``: nbgrader's Validate, in its own process, within its limits."""

        @web.authenticated
        async def post(self) -> None:
            path = self.get_argument("path", None)
            if path is None:
                path = (self.get_json_body() or {}).get("path")
            if not isinstance(path, str):
                raise web.HTTPError(400, "no notebook path given")
            root = Path(self.settings["root_dir"]).resolve()
            target = (root / path).resolve()
            if not target.is_relative_to(root):
                raise web.HTTPError(403, "Access denied: path outside allowed directory")
            self.log.info("Validating '%s'", target)
            cwd = Path.cwd()
            answer = await run_bounded(target, cwd=cwd, config=load_course_config(), log=self.log)
            self.finish(json.dumps(answer))

    return [("/assignments/validate", BoundedValidateHandler), ("/nbgrader_version", NbGraderVersionHandler)]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "autograder.instructor.validate_bound"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the bounded Validate (and nbgrader's version check) on the Jupyter server."""
    from jupyter_server.utils import url_path_join

    web_app = server_app.web_app
    base_url = web_app.settings["base_url"]
    web_app.settings["root_dir"] = server_app.root_dir
    web_app.add_handlers(".*$", [(url_path_join(base_url, pattern), handler) for pattern, handler in _handlers()])
    server_app.log.info("Validate is bounded: each run in its own process, stopped with its kernel at its limit")
