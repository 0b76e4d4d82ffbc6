"""Grading into a real PostgreSQL gradebook (a throwaway server on 127.0.0.1)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
import toy
from nbgrader.api import Gradebook

from autograder.course.directory import Course
from autograder.host import grade

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """Start PostgreSQL (initdb + pg_ctl as user postgres) in a temp dir; yield a SQLAlchemy URL."""
    if os.geteuid() == 0 and not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        subprocess.run([str(REPO / ".ci" / "system-deps.sh"), "postgresql"], check=True, timeout=900)
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql)")
    bin_dir = Path(bins[-1])
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    tmp = Path(tempfile.mkdtemp(prefix="ag-pg-"))
    os.chmod(tmp, 0o755)
    data, sock, logs = tmp / "data", tmp / "sock", tmp / "logs"
    for d in (data, sock, logs):
        d.mkdir()
        if os.geteuid() == 0:
            shutil.chown(d, user, user)
    as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    port = _free_port()
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(logs / "pg.log"), "-o",
                    f"-p {port} -k {sock} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True, timeout=120)
    try:
        subprocess.run([*as_user, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "gradebook"],
                       check=True, capture_output=True, timeout=60)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


def test_grade_into_postgres(course: Path, postgres_url: str) -> None:
    toy.nbgrader(course, "generate_assignment", "toy", "--force", f"--CourseDirectory.db_url={postgres_url}")
    toy.submit(course, "pg_full", toy.CORRECT)
    toy.submit(course, "pg_half", {"square": toy.CORRECT["square"]})
    toy.submit(course, "pg_bad", raw=b"not a notebook")
    rows = grade.run(course=Course.open(course, postgres_url), assignment="toy", jobs=2, progress=False, quiet=True)
    assert {r["student_id"]: (r["status"], r["score"]) for r in rows} == {
        "pg_full": ("graded", "6"), "pg_half": ("graded", "2"), "pg_bad": ("invalid_notebook", "0")}
    with Gradebook(postgres_url, "toy-course") as gb:
        assert {s.student.id: s.score for s in gb.find_assignment("toy").submissions} == {"pg_full": 6, "pg_half": 2, "pg_bad": 0}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "toy-course") as gb:
        assert gb.find_assignment("toy").submissions == []  # the SQLite default was not touched
    again = grade.run(course=Course.open(course, postgres_url), assignment="toy", jobs=2, progress=False, quiet=True)
    assert again == rows
