"""The one-machine SLURM cluster of the tests: one per test run, always stopped (also when a test fails).

The ``slurm_clusters`` fixture (tests/autograder/conftest.py) holds it for the session, and every test marked
``slurm`` runs in the same xdist group, so one worker owns it. A test that stops it (to check that stopping ends
the daemons) leaves the next one to start a fresh cluster.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from autograder.platforms.slurm import cluster


class Clusters:
    """The session's cluster, started on first use (and again after a test stopped it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[cluster.Cluster] = []

    def get(self) -> cluster.Cluster:
        """The running cluster; skip when SLURM or root is missing."""
        why = cluster.missing()
        if why:
            pytest.skip(why)
        if not self.started or not self.started[-1].processes:
            self.started.append(cluster.start(self.folder / f"cluster-{len(self.started)}"))
        return self.started[-1]

    def stop(self) -> None:
        for started in self.started:
            started.stop()


def running(folder: Path) -> Iterator[Clusters]:
    """Yield the holder of the session's cluster; stop whatever it started at the end."""
    clusters = Clusters(folder)
    try:
        yield clusters
    finally:
        clusters.stop()
