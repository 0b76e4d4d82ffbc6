"""A throwaway PostgreSQL server for the tests: one per test run, on 127.0.0.1, a fresh database per test.

The ``postgres_server`` fixture (tests/autograder/conftest.py) starts it on first use and stops it at the end of
the session; every test marked ``postgres`` runs in the same xdist group, so one worker owns the server. Its log
(``postgresql-*/pg.log``) goes to the suite's log folder (tests/service_logs.py) and is kept after the run.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

import service_logs

REPO = Path(__file__).resolve().parents[2]
_names = itertools.count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server: its binaries, port and the command prefix that runs them as the server's user."""

    bin_dir: Path
    port: int
    as_user: list[str]

    def new_database(self) -> str:
        """Create an empty database; return its SQLAlchemy URL."""
        name = f"gradebook_{os.getpid()}_{next(_names)}"
        subprocess.run([*self.as_user, str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", name], check=True, capture_output=True, timeout=60)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def running() -> Iterator[Server]:
    """Start PostgreSQL (initdb + pg_ctl as user postgres) in a temp dir; yield it; stop it and remove its files
    (all but its log)."""
    if os.geteuid() == 0 and not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        subprocess.run([str(REPO / ".ci" / "system-deps.sh"), "postgresql"], check=True, timeout=900)
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql)")
    bin_dir = Path(bins[-1])
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    tmp = Path(tempfile.mkdtemp(prefix="ag-pg-"))
    os.chmod(tmp, 0o755)
    data, sock, logs = tmp / "data", tmp / "sock", service_logs.folder("postgresql")
    for d in (data, sock, logs):
        d.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(d, user, user)
    as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    port = _free_port()
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(logs / "pg.log"),
                        "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1", "start"], check=True,
                       capture_output=True, timeout=120)
        yield Server(bin_dir, port, as_user)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)
