"""A real course hub for the tests: ``python -m autograder hub`` on a copy of the course, real Unix accounts, a client.

The course lives under a fresh folder in /tmp that every account can enter (pytest's own tmp folders are closed to
other accounts). Every name carries a random tag, and everything made is removed afterwards: the hub and its
servers, the accounts with their homes and groups, the state folder and the exchange.
"""
from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[4]
START_S = 600  # the hub's first start copies the interpreter and imports JupyterHub; bounded, far above a start
HTTP_S = 300
#: The hub, and so every server and the Formgrader it starts, runs with the strictest common umask: nothing in the
#: course may rely on files being readable by default.
UMASK = 0o077


def free_ports(count: int = 4) -> int:
    """The first of ``count`` consecutive free ports on 127.0.0.1."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count >= 65000:
            continue
        ok = True
        for port in range(base, base + count):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports")


@dataclass
class Hub:
    """One running course hub and what it was made of."""

    base: str
    folder: Path  # holds course/, state/, exchange/, hub.log
    course: Path
    state: Path
    exchange: Path
    course_id: str
    instructor: str
    assistant: str
    students: list[str]
    proc: subprocess.Popen | None = None
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def grader(self) -> str:
        return f"grader-{self.course_id}"

    @property
    def log(self) -> Path:
        return self.folder / "hub.log"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def everyone(self) -> list[str]:
        return [self.instructor, self.assistant, *self.students]


def make_course(folder: Path, released: Path, *, instructor: str, assistant: str) -> Path:
    """A copy of the released course at ``folder/course``, naming the staff in its config."""
    course = folder / "course"
    shutil.copytree(released, course, symlinks=True)
    with open(course / "nbgrader_config.py", "a", encoding="utf-8") as fh:
        fh.write(f"\nc.CourseHub.instructors = [{instructor!r}]\nc.CourseHub.assistants = [{assistant!r}]\n")
    return course


def new_folder() -> Path:
    folder = Path("/tmp") / f"unet-hub-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    return folder


def start(hub: Hub, roster: Path) -> None:
    """Start ``python -m autograder hub`` for ``hub`` under ``umask 077``; return once it answers, else fail with
    its log."""
    port = int(hub.base.rsplit(":", 1)[1])
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"}
    out = open(hub.log, "w", encoding="utf-8")
    hub.proc = subprocess.Popen([sys.executable, "-m", "autograder", "--root", str(hub.course), "hub", "--roster",
                                 str(roster), "--port", str(port), "--state", str(hub.state), "--exchange",
                                 str(hub.exchange)], stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, preexec_fn=lambda: os.umask(UMASK))
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if hub.proc.poll() is not None:
            raise AssertionError(f"the hub stopped ({hub.proc.returncode}):\n{hub.log_tail()}")
        if "JupyterHub is now running" in hub.log.read_text(errors="replace"):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the hub did not start within {START_S} s:\n{hub.log_tail()}")
    with open(hub.state / "secret" / "passwords.csv", newline="", encoding="utf-8") as fh:
        hub.passwords = {row["account"]: row["first_password"] for row in csv.DictReader(fh)}


def stop(hub: Hub) -> None:
    """Stop the hub (it stops its proxy, service and servers), then everything the accounts still run."""
    if hub.proc is not None and hub.proc.poll() is None:
        os.killpg(hub.proc.pid, signal.SIGTERM)
        try:
            hub.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(hub.proc.pid, signal.SIGKILL)
            hub.proc.wait(timeout=30)
    for name in [*hub.everyone(), hub.grader]:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True, check=False)


def remove_accounts(names: list[str]) -> None:
    """Delete the accounts with their homes and own groups (quietly: some may never have been made)."""
    for name in names:
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
        subprocess.run(["groupdel", name], capture_output=True, check=False)


class Client:
    """One person in a browser-less session: the hub's login form, then their server or the Formgrader."""

    def __init__(self, hub: Hub, user: str) -> None:
        self.hub, self.user = hub, user
        self.s = requests.Session()
        self.s.get(hub.base + "/hub/login", timeout=HTTP_S)
        r = self.s.post(hub.base + "/hub/login", timeout=HTTP_S, allow_redirects=False,
                        data={"username": user, "password": hub.passwords[user], "_xsrf": self.s.cookies.get("_xsrf")})
        assert r.status_code == 302, f"{user} could not log in ({r.status_code}):\n{hub.log_tail()}"

    def get(self, path: str, **kw: object) -> requests.Response:
        return self.s.get(self.hub.base + path, timeout=HTTP_S, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> requests.Response:
        xsrf = ""
        for cookie in self.s.cookies:
            if cookie.name == "_xsrf" and path.startswith(cookie.path.rstrip("/")):
                xsrf = cookie.value
        return self.s.post(self.hub.base + path, headers={"X-XSRFToken": xsrf}, timeout=900, **kw)  # type: ignore[arg-type]

    def server(self) -> requests.Response:
        """Spawn (or reach) this person's server and pass its login; bounded."""
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            self.get(f"/hub/spawn/{self.user}")
            r = self.get(f"/user/{self.user}/lab")
            if r.url.startswith(f"{self.hub.base}/user/{self.user}/lab"):
                return r
            time.sleep(2)
        raise AssertionError(f"{self.user}'s server did not start within {START_S} s:\n{self.hub.log_tail()}")

    def formgrader(self) -> requests.Response:
        return self.get(f"/services/{self.hub.course_id}/formgrader")

    def nbgrader(self, action: str, assignment: str) -> dict:
        """One Assignment List action of this person's server (fetch, submit, fetch_feedback)."""
        r = self.post(f"/user/{self.user}/assignments/{action}",
                      data={"course_id": self.hub.course_id, "assignment_id": assignment})
        assert r.status_code == 200, f"{action} as {self.user}: {r.status_code}\n{self.hub.log_tail()}"
        body = r.json()
        assert body.get("success"), f"{action} as {self.user}: {body}"
        return body

    def api(self, path: str) -> dict:
        """A Formgrader API call (POST) as this person."""
        r = self.post(f"/services/{self.hub.course_id}/formgrader/api/{path}")
        assert r.status_code == 200, f"formgrader {path} as {self.user}: {r.status_code}\n{self.hub.log_tail()}"
        body = r.json()
        assert body.get("success"), f"formgrader {path} as {self.user}: {str(body)[-2000:]}"
        return body
