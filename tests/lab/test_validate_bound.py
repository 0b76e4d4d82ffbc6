"""The lab's Validate is bounded: a notebook that hangs is stopped with its kernel, and the dialog says why.

A real JupyterLab from ``python -m autograder lab`` on a small course whose per-cell limit (600 s) is far above
its Validate limit for all cells (``c.ValidateBound.total_timeout = 20``), so only the whole-run bound can stop
these notebooks in time. The tests speak HTTP to the endpoint the Validate button calls (``POST
/assignments/validate``) and read the answer the button's dialog shows; the browser tests press the button itself.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import nbformat
import psutil
import pytest

import service_logs

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "validate-bound-test"
TOTAL_LIMIT = 20  # c.ValidateBound.total_timeout of the test course
CELL_LIMIT = 600  # c.ExecutePreprocessor.timeout: never reached here
START_TIMEOUT = 180  # JupyterLab answering, in seconds
# The HTTP wait for one Validate: far above the bound (the kernel's start-up limit, 60 s, plus the imports' margin,
# plus TOTAL_LIMIT), far below what nbgrader's own handler would take (CELL_LIMIT for the hanging cell).
ANSWER_TIMEOUT = 300


@dataclass
class Lab:
    """A running JupyterLab on the test course."""

    url: str
    notebooks: Path
    log: Path


def _request(url: str, *, method: str = "GET", timeout: float = 60) -> Any:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {TOKEN}"},
                                     data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - 127.0.0.1 only
        return json.loads(answer.read().decode())


def _validate(lab: Lab, name: str) -> dict[str, Any]:
    query = urllib.parse.urlencode({"path": name})
    return _request(f"{lab.url}/assignments/validate?{query}", method="POST", timeout=ANSWER_TIMEOUT)


def _notebook(lab: Lab, name: str, sources: list[str], graded: bool = False) -> Path:
    """Write a notebook of these code cells at ``name`` (relative to the lab's folder); its folder."""
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    if graded:
        cells[-1].metadata["nbgrader"] = {"grade": True, "grade_id": "test_sum", "locked": True, "points": 1,
                                          "schema_version": 3, "solution": False, "task": False}
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = lab.notebooks / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path.parent


_RECORD_PID = "import os\nopen('kernel.pid', 'w').write(str(os.getpid()))"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, free_port: Callable[[], int],
        user_env: Callable[..., dict[str, str]]) -> Iterator[Lab]:
    """``python -m autograder lab`` on a small course with a 20-second Validate limit."""
    base = tmp_path_factory.mktemp("validate-bound")
    course = base / "course"
    notebooks = course / "notebooks"
    notebooks.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.ExecutePreprocessor.timeout = {CELL_LIMIT}\n"
        f"c.ValidateBound.total_timeout = {TOTAL_LIMIT}\n")
    port = free_port()
    log = service_logs.folder("lab-validate") / "jupyterlab.log"  # kept after the run; .ci/run lists it
    env = user_env(base / "home", JUPYTER_TOKEN=TOKEN)
    command = [sys.executable, "-m", "autograder", "--root", str(course), "lab", "--no-browser", "--port", str(port),
               "--notebook-dir", str(notebooks)]
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    print(f"JupyterLab log: {log}")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                _request(f"{url}/api/status", timeout=10)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield Lab(url=url, notebooks=notebooks, log=log)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _kernel_gone(folder: Path) -> bool:
    pid = int((folder / "kernel.pid").read_text())
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _stopped_message(answer: dict[str, Any], cell_source: str) -> str:
    """The one failure of a stopped Validate: it shows the cell that was running; returns its words."""
    assert answer["success"] is True, answer
    failed = answer["value"]["failed"]
    assert len(failed) == 1 and failed[0]["source"] == cell_source, failed
    return failed[0]["raw_error"]


def test_a_kernel_that_stops_answering_is_stopped_and_the_lab_stays_responsive(lab: Lab) -> None:
    """A cell stops its own kernel (SIGSTOP): Validate answers at its 20 s bound, names that cell and what to do,
    kills the kernel; meanwhile the lab answers other requests (the validation no longer blocks the server)."""
    frozen = "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"
    folder = _notebook(lab, "frozen/frozen.ipynb", [_RECORD_PID, frozen, "print('never')"])
    answers: list[Any] = []
    pressed = threading.Thread(target=lambda: answers.append(_validate(lab, "frozen/frozen.ipynb")), daemon=True)
    pressed.start()
    while not (folder / "kernel.pid").exists() and pressed.is_alive():
        time.sleep(0.2)
    status = _request(f"{lab.url}/api/status", timeout=60)  # answered while the validation runs
    assert "started" in status and pressed.is_alive(), (status, answers)
    pressed.join(ANSWER_TIMEOUT + 30)
    assert answers, f"Validate did not answer within {ANSWER_TIMEOUT} s; lab log {lab.log}"
    words = _stopped_message(answers[0], frozen)
    assert f"limit of {TOTAL_LIMIT} seconds for all its cells" in words and "cell 2 of the notebook" in words, words
    assert "Its kernel was stopped" in words and "press Validate again" in words, words
    assert _kernel_gone(folder)


def test_a_cell_that_runs_too_long_is_stopped(lab: Lab) -> None:
    """A cell that sleeps for an hour: stopped at the bound, the dialog names it; the kernel is gone."""
    sleeper = "import time\ntime.sleep(3600)"
    folder = _notebook(lab, "sleepy/sleepy.ipynb", [_RECORD_PID, sleeper])
    answer = _validate(lab, "sleepy/sleepy.ipynb")
    words = _stopped_message(answer, sleeper)
    assert f"limit of {TOTAL_LIMIT} seconds" in words and f"{CELL_LIMIT} s for any one cell" in words, words
    assert _kernel_gone(folder)


def test_an_ordinary_notebook_gets_nbgraders_answer(lab: Lab) -> None:
    """Within its bound a Validate answers as nbgrader's does: the failed check with its error."""
    check = "assert 1 + 1 == 3, 'one and one make two'"
    _notebook(lab, "ordinary/ordinary.ipynb", ["x = 1", check], graded=True)
    answer = _validate(lab, "ordinary/ordinary.ipynb")
    assert answer["success"] is True, answer
    failed = answer["value"]["failed"]
    assert [f["source"] for f in failed] == [check] and "one and one make two" in failed[0]["raw_error"], failed
