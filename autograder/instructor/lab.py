"""``python -m autograder lab``: JupyterLab with nbgrader's student tools (or the instructor's) on 127.0.0.1.

Students get the notebook opened on ``release/`` with the **Validate** button, plus the **Assignment List**
when an nbgrader exchange is configured; the instructor parts (Formgrader, Create Assignment, Course List)
are switched off. ``--instructor`` opens the course root with every nbgrader part switched on.

Nothing in the user's own Jupyter configuration is written: the lab extensions are switched through a
generated config folder put first on ``JUPYTER_CONFIG_PATH`` (a ``labconfig/page_config.json`` with
``disabledExtensions``, removed again on exit), the server extensions through ``--ServerApp.jpserver_extensions``
flags, which win over every config file. JupyterLab's news feed and update check are off. The Validate button
is served by the kit's bounded Validate (:mod:`autograder.instructor.validate_bound`) in place of nbgrader's.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from autograder.course.directory import tools_path
from autograder.errors import UserError

__all__ = ["LabLaunch", "exchange_root", "lab_settings", "prepare", "run", "default_root"]

KIT_ROOT = Path(__file__).resolve().parents[2]
COURSE_CONFIG = "nbgrader_config.py"

# nbgrader's JupyterLab plugins (docs: user_guide/installation.rst) and server extensions.
LAB_FORMGRADER = "@jupyter/nbgrader:formgrader"
LAB_CREATE = "@jupyter/nbgrader:create-assignment"
LAB_COURSES = "@jupyter/nbgrader:course-list"
LAB_ASSIGNMENTS = "@jupyter/nbgrader:assignment-list"
LAB_VALIDATE = "@jupyter/nbgrader:validate-assignment"
LAB_MENU = "@jupyter/nbgrader:menu"  # the "Nbgrader" menu: Assignment List, Course List, Formgrader
SERVER_FORMGRADER = "nbgrader.server_extensions.formgrader"
SERVER_COURSES = "nbgrader.server_extensions.course_list"
SERVER_ASSIGNMENTS = "nbgrader.server_extensions.assignment_list"
# Validate: the kit's bounded stand-in for nbgrader's handler (each run in its own process, stopped with its kernel
# at its limit; autograder/instructor/validate_bound.py), with nbgrader's own handler switched off.
SERVER_VALIDATE = "autograder.instructor.validate_bound"
SERVER_NBGRADER_VALIDATE = "nbgrader.server_extensions.validate_assignment"
# JupyterLab's news and update-check plugin: it asks about news on first start even with news_url=None.
LAB_ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"
# nbgrader's default Exchange.root: an exchange is "configured" when this exists or the config names one.
DEFAULT_EXCHANGE = Path("/srv/nbgrader/exchange")


@dataclass(frozen=True)
class LabLaunch:
    """Everything needed to start one JupyterLab: command line, environment, working folder."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    config_dir: Path
    notebook_dir: Path
    instructor: bool
    exchange: Path | None


def _venv_python(root: Path) -> str:
    """The interpreter with the pinned JupyterLab: ``ROOT/.venv`` (else the kit's), else this one."""
    for candidate in (root / ".venv" / "bin" / "python", KIT_ROOT / ".venv" / "bin" / "python"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return sys.executable


def exchange_root(root: Path, env: Mapping[str, str] | None = None) -> Path | None:
    """The nbgrader exchange students would use from ``root`` (None when none is configured).

    Reads nbgrader's configuration the way its server extensions do: the Jupyter config path plus
    ``root/nbgrader_config.py``. A config naming another exchange class (e.g. ngshare) counts as configured.
    """
    from jupyter_core.paths import jupyter_config_path
    from nbgrader.apps import NbGrader

    saved = dict(os.environ)
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        app = NbGrader()
        app.config_file_paths.append([str(root), *jupyter_config_path()])
        app.load_config_file()
        config = app.config
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if "ExchangeFactory" in config and config.ExchangeFactory:
        return Path(str(config.Exchange.get("root", DEFAULT_EXCHANGE)))
    if "root" in config.get("Exchange", {}):
        return Path(str(config.Exchange.root)).expanduser()
    return DEFAULT_EXCHANGE if DEFAULT_EXCHANGE.is_dir() else None


def lab_settings(*, instructor: bool, exchange: bool) -> tuple[dict[str, bool], list[str]]:
    """(server extensions -> enabled, lab plugins to disable) for the student or the instructor lab."""
    servers = {
        SERVER_VALIDATE: True,
        SERVER_NBGRADER_VALIDATE: False,
        SERVER_ASSIGNMENTS: exchange,
        SERVER_FORMGRADER: instructor,
        SERVER_COURSES: instructor,
    }
    disabled = [LAB_ANNOUNCEMENTS] + ([] if instructor else [LAB_FORMGRADER, LAB_CREATE, LAB_COURSES])
    if not exchange:
        disabled.append(LAB_ASSIGNMENTS)
        if not instructor:
            disabled.append(LAB_MENU)  # it would be an empty menu
    return servers, disabled


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def prepare(*, root: Path, instructor: bool = False, port: int | None = None, open_browser: bool = True,
            extra_env: Mapping[str, str] | None = None, notebook_dir: Path | None = None,
            config_dir: Path | None = None) -> LabLaunch:
    """Check the course and build the JupyterLab command line; writes only the generated config folder.

    ``notebook_dir`` overrides the folder the lab opens (default ``release/`` for students, the course
    root for the instructor); ``config_dir`` is where the generated Jupyter config goes (default: a new
    temporary folder, which the caller removes).
    """
    root = Path(root).resolve()
    if not (root / COURSE_CONFIG).is_file():
        raise UserError(f"{root} is not an nbgrader course directory (no {COURSE_CONFIG})",
                        "run from the course root or pass --root")
    if notebook_dir is None:
        notebook_dir = root if instructor else root / "release"
    notebook_dir = Path(notebook_dir).resolve()
    if not notebook_dir.is_dir():
        hint = "run `make release` first" if notebook_dir == root / "release" else "pass an existing folder"
        raise UserError(f"the notebook folder {notebook_dir} does not exist", hint)
    if port is not None and not (0 < port < 65536):
        raise UserError(f"--port {port} is not a TCP port", "pick a number between 1024 and 65535")
    if port is not None and not _port_free(port):
        raise UserError(f"port {port} on 127.0.0.1 is in use", "pick another one with --port")

    python = _venv_python(root)
    probe = subprocess.run([python, "-c", "import jupyterlab, nbgrader"], capture_output=True)
    if probe.returncode != 0:
        raise UserError(f"JupyterLab or nbgrader is not installed for {python}", "run `make setup`")

    env = {**os.environ, **(extra_env or {})}
    # nbgrader (formgrader, autograde) runs `alembic` from PATH, and kernels start from this interpreter.
    env["PATH"] = tools_path(env.get("PATH", ""), python)

    exchange = exchange_root(root, env)
    servers, disabled = lab_settings(instructor=instructor, exchange=exchange is not None)

    made = config_dir is None
    config_dir = Path(tempfile.mkdtemp(prefix="unet-lab-")) if made else Path(config_dir)
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    page = {"disabledExtensions": {name: True for name in disabled}}
    (labconfig / "page_config.json").write_text(json.dumps(page, indent=2) + "\n", encoding="utf-8")
    # First on the config path: wins over the sys-prefix and system config (where pip enabled every
    # nbgrader part); the user's own ~/.jupyter is still read (e.g. its nbgrader exchange settings).
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        p for p in [str(config_dir), env.get("JUPYTER_CONFIG_PATH", "")] if p)

    argv = [python, "-m", "jupyterlab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={notebook_dir}",
            f"--ServerApp.open_browser={open_browser}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    argv += [f"--ServerApp.jpserver_extensions={name}={enabled}" for name, enabled in servers.items()]
    if port is not None:
        argv += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return LabLaunch(argv=argv, env=env, cwd=root, config_dir=config_dir, notebook_dir=notebook_dir,
                     instructor=instructor, exchange=exchange)


def default_root() -> Path:
    """The course ``lab`` opens when none is named: the current folder when it is a course, else the kit."""
    here = Path.cwd()
    return here if (here / COURSE_CONFIG).is_file() else KIT_ROOT


def run(*, root: Path | None = None, instructor: bool = False, port: int | None = None, open_browser: bool = True,
        extra_env: dict | None = None, notebook_dir: Path | None = None) -> int:
    """Start JupyterLab for a student (or, with ``instructor``, the instructor) and wait until it stops.

    ``root``: the course (default: :func:`default_root`).

    The server's working folder is the course root, so nbgrader's Validate uses the course's
    ``nbgrader_config.py`` (e.g. its per-cell time limit). Returns JupyterLab's exit status.
    Raises :class:`UserError` when the course or the environment is not ready.
    """
    launch = prepare(root=root or default_root(), instructor=instructor, port=port, open_browser=open_browser,
                     extra_env=extra_env, notebook_dir=notebook_dir)
    parts = ("Formgrader, Create Assignment, Course List, Validate" if launch.instructor else "Validate")
    if launch.exchange is not None:
        parts += f", Assignment List (exchange {launch.exchange})"
    print(f"JupyterLab for the {'instructor' if launch.instructor else 'student'} on {launch.notebook_dir} "
          f"with nbgrader's {parts}. Stop it with Ctrl-C twice.", flush=True)
    try:
        proc = subprocess.Popen(launch.argv, env=launch.env, cwd=launch.cwd)
        # JupyterLab handles Ctrl-C itself (it asks, a second Ctrl-C stops it); pass SIGTERM on.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        previous_term = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        try:
            return proc.wait()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous_term)
    finally:
        shutil.rmtree(launch.config_dir, ignore_errors=True)
