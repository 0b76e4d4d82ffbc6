"""Running a lesson notebook as a student does (Restart and Run All), and the runs the suite shares.

A run gets the short training nbgrader would get (``UNET_QUICK_RUN=1``) but not nbgrader's flag, so the notebook
saves what it trains and a second Run All in the same folder loads it. Only the kernel's environment is set:
this process's environment is left as it was.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = "executed.ipynb"


def kernel_env() -> dict[str, str]:
    """This process's environment without nbgrader's flag, with the quick training switched on."""
    env = {key: value for key, value in os.environ.items() if key != "NBGRADER_EXECUTION"}
    env["UNET_QUICK_RUN"] = "1"
    return env


def run_all(nb: nbformat.NotebookNode, folder: Path, *, allow_errors: bool = False,
            timeout: int = 900) -> nbformat.NotebookNode:
    """*Restart and Run All* of ``nb`` in ``folder``; the outputs are filled in (nbclient raises on a failing cell
    unless ``allow_errors``)."""
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            startup_timeout=300, iopub_timeout=60,  # a kernel starting on a busy machine
                            resources={"metadata": {"path": str(folder)}})
    client.execute(env=kernel_env())
    return nb


def run_into(folder: Path, nb: nbformat.NotebookNode, start_from: Path | None = None) -> Path:
    """Run ``nb`` in ``folder`` (first a copy of ``start_from``, with what an earlier run saved) and keep the
    executed notebook there as ``executed.ipynb``."""
    if start_from is not None:
        shutil.copytree(start_from, folder, symlinks=True)
        (folder / EXECUTED).unlink()
    else:
        folder.mkdir(parents=True)
    nbformat.write(run_all(nb, folder), folder / EXECUTED)
    return folder


def executed(folder: Path) -> nbformat.NotebookNode:
    """The executed notebook a shared run left in ``folder``."""
    return nbformat.read(folder / EXECUTED, as_version=4)
