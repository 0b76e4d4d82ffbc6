"""Fixtures: a toy nbgrader course in a temporary folder, built once and copied per test."""
from __future__ import annotations

import dataclasses

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import toy  # noqa: E402
import service_logs  # noqa: E402  (tests/, on sys.path through tests/conftest.py)

from autograder.course.settings import Autograder
from autograder.sandbox import limits as sandbox  # noqa: E402


@pytest.fixture(scope="session")
def toy_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy course, released once per session."""
    return toy.make_course(tmp_path_factory.mktemp("toy-template") / "course")


@pytest.fixture
def course(toy_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the released toy course (its gradebook has the assignment, no students)."""
    root = tmp_path / "course"
    shutil.copytree(toy_template, root)
    return root


@pytest.fixture
def small_limits() -> sandbox.Limits:
    """Small memory and process limits, so hostile cases hit them at once; sandbox uids of their own (a grading run
    elsewhere on the machine, from the default base, cannot be mistaken for what a test left behind).

    The time limits are far above what any case that must finish needs, whatever the machine's load: the slowest
    answer cell measured (the corpus's ``forker``: 64 forks, killed) took 4.3 s at a load average near 10 on 2 cores,
    the probes under 1 s. A case that must run past the cell limit never ends (``while True``), so it reaches any
    limit; the whole-submission limit is far above the cell limit, so a cell's timeout is never taken over by it."""
    return dataclasses.replace(Autograder().limits(), cell_timeout=60, submission_timeout=600, memory_mb=768, nproc=64,
                               uid_base=63000)


@pytest.fixture(scope="session")
def docker_client():
    """A Docker client whose daemon answers; starts Debian's dockerd for the session when none does."""
    import docker_env

    client = docker_env.docker()
    if client is None:
        pytest.skip("no Docker client (apt-get install docker.io, as `make system-deps` does)")
    started = None
    if not docker_env.answers(client):
        started = docker_env.start_daemon(service_logs.folder("dockerd") / "dockerd.log")
        if started is None:
            pytest.skip("no Docker daemon answers and none could be started (needs root and dockerd)")
    yield client
    if started is not None:
        docker_env.stop_daemon(started)


@pytest.fixture(scope="session")
def grading_image(docker_client: str) -> str:
    """The CPU grading image built from the repository's Dockerfile (``make image``)."""
    import docker_env

    docker_env.build_image(docker_client)
    return docker_env.IMAGE


@pytest.fixture(scope="session")
def postgres_server():
    """The suite's PostgreSQL server (started on first use, stopped at the end of the session)."""
    import postgres_env

    yield from postgres_env.running()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the suite's PostgreSQL server: its SQLAlchemy URL."""
    return postgres_server.new_database()


@pytest.fixture(scope="session")
def slurm_clusters():
    """The holder of the suite's one-machine SLURM cluster (stopped at the end of the session)."""
    import slurm_env

    yield from slurm_env.running(service_logs.folder("slurm"))  # the clusters' folders hold their logs


@pytest.fixture
def slurm_cluster(slurm_clusters):
    """The running one-machine SLURM cluster (skips where SLURM or root is missing)."""
    return slurm_clusters.get()
