"""A one-machine SLURM cluster for the tests: started per module, always stopped (also when a test fails)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from autograder.platforms.slurm import cluster


def running(folder: Path) -> Iterator[cluster.Cluster]:
    """Yield a started cluster whose files live in ``folder``; skip when SLURM or root is missing."""
    why = cluster.missing()
    if why:
        pytest.skip(why)
    started = cluster.start(folder)
    try:
        yield started
    finally:
        started.stop()
