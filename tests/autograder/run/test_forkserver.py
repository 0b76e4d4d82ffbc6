"""The fork server and warm kernels on their own: preload list, protocol, failures, clean-up."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from autograder.host import forkserver
from autograder.run import warm

REPO = Path(__file__).resolve().parents[3]


def _server(**env: str) -> forkserver.Server:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **env}
    return forkserver.Server(preload=["json"], env=base, start_timeout=120)


def test_notebook_imports_lists_installed_packages_only(tmp_path: Path) -> None:
    v4 = nbformat.v4
    (tmp_path / "helpers.py").write_text("X = 1\n")
    nb = v4.new_notebook(cells=[
        v4.new_code_cell("%matplotlib inline\nimport numpy as np, json\nfrom nbformat import v4 as _v4\n"
                         "import helpers\nfrom . import sibling\nimport data_fetch"),
        v4.new_code_cell("this is not python ("),
        v4.new_markdown_cell("import pandas"),
    ])
    nbformat.write(nb, tmp_path / "a.ipynb")
    names = forkserver.notebook_imports(tmp_path)
    assert names == ["numpy", "json", "nbformat"]  # course packages, local files and prose are left out


def test_server_reports_exit_codes_and_stops_with_its_children(tmp_path: Path) -> None:
    server = _server()
    try:
        missing = server.fork(tmp_path / "job.json")  # no env.json next to it: the worker fails at once
        assert missing.wait(timeout=300) == 1
        assert "env.json" in (tmp_path / "worker.log").read_text()
        # a worker still running times out in wait(); killed, it reports the signal, like subprocess.Popen
        (tmp_path / "slow").mkdir()
        (tmp_path / "slow" / "job.json").write_text("{}")
        os.mkfifo(tmp_path / "slow" / "env.json")  # reading it blocks: a worker that never finishes
        worker = server.fork(tmp_path / "slow" / "job.json", warm=True)
        with pytest.raises(subprocess.TimeoutExpired):
            worker.wait(timeout=1)  # it never ends (the fifo is never opened for writing), so any wait times out
        deadline = time.monotonic() + 300  # it forks its pending kernel first (late on a busy machine)
        while not (kernels := psutil.Process(worker.pid).children()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(kernels) == 1  # its pending kernel
        worker.kill()
        assert worker.wait(timeout=300) == -signal.SIGKILL
        psutil.wait_procs(kernels, timeout=300)
        assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kernels)
    finally:
        server.close()
    assert server._proc.returncode is not None  # noqa: SLF001
    with pytest.raises(forkserver.ForkServerError):
        server.fork(tmp_path / "job.json")


def test_server_dies_with_the_grading_process(tmp_path: Path) -> None:
    script = (f"import sys, time; sys.path.insert(0, {str(REPO)!r})\n"
              "from autograder.host import forkserver\n"
              f"s = forkserver.Server(preload=[], env={{'PATH': {os.environ['PATH']!r}, 'PYTHONPATH': {str(REPO)!r}}})\n"
              "print(s._proc.pid, flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
        assert psutil.pid_exists(server_pid)
        parent.kill()
        parent.wait(timeout=300)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and psutil.pid_exists(server_pid) \
                and psutil.Process(server_pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.1)
        assert not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE
    finally:
        parent.kill()


def test_pending_kernel_discarded_without_running_anything(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"  # never read: a discarded kernel leaves before confining
    pending = warm.fork_pending(policy)
    assert warm.take_pending() is pending and warm.take_pending() is None  # handed out once only
    assert pending.poll() is None
    pending.discard()
    assert pending.returncode == 0


def test_pending_kernel_reports_a_bad_policy(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    pending = warm.PendingKernel(tmp_path / "missing-policy.json")
    pending.start(str(tmp_path / "kernel.json"), {"PATH": "/usr/bin"})
    assert pending.wait(timeout=300) == 1
    assert "missing-policy.json" in capfd.readouterr().err


def test_the_servers_preload_holds_no_reference_answer() -> None:
    """Kernels are forks of the server: what it imported is in their memory, so never the judge or its references."""
    code = ("import importlib, sys\nfrom autograder.host.forkserver import BASE_PRELOAD\n"
            "for m in BASE_PRELOAD: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('autograder.run.judge', 'test_utils'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=REPO)
    assert done.stdout.strip() == "[]"
