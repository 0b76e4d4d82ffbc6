"""Where the suite's services and labs write their logs: one folder, kept after the run.

``$UNET_TEST_LOGS`` names it (``.ci/run`` sets a fresh one per run and prints every file in it when a test fails);
without it, ``$TMPDIR/unet-course-test-logs/`` (``/tmp/...`` by default). Each service or lab gets a new subfolder
named after it: ``dockerd-*/dockerd.log`` and ``image-build.log``, ``postgresql-*/pg.log``, ``slurm-*/cluster-N/``
(``slurmctld.log``, ``slurmd.log``, ``munged.log``), ``lab-*/jupyterlab.log``. Nothing here is removed by the tests.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["ENV", "root", "folder"]

ENV = "UNET_TEST_LOGS"


def root() -> Path:
    """The run's log folder (created, readable by the services' own users)."""
    path = Path(os.environ.get(ENV) or Path(tempfile.gettempdir()) / "unet-course-test-logs")
    try:
        path.mkdir(parents=True, exist_ok=True)
        if path.stat().st_uid == os.geteuid():
            path.chmod(0o755)  # PostgreSQL writes its log as its own user, in a subfolder of this one
        probe = tempfile.mkdtemp(dir=path)
        os.rmdir(probe)
    except OSError:
        path = Path(tempfile.mkdtemp(prefix="unet-course-test-logs-"))  # another user's folder: one of our own
        path.chmod(0o755)
    return path


def folder(name: str) -> Path:
    """A new folder ``<root>/<name>-XXXX`` for one service's or lab's logs."""
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root()))
