"""A Docker engine and the grading image for the container tests.

When no daemon answers, Debian's ``dockerd`` is started for the session (as root) and stopped
afterwards. The image is built from the repository's Dockerfile with ``autograder/platforms/image/build.sh``
(its layer cache makes a rebuild quick); without Docker Hub the base image comes from mmdebstrap. The daemon's
log and the build's output go to the suite's log folder (tests/service_logs.py), kept after the run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import service_logs

REPO = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("AUTOGRADER_TEST_IMAGE", "unet-grader:cpu")


def docker() -> str | None:
    """The Docker client with BuildKit support (Debian's), else any on PATH."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def answers(client: str) -> bool:
    """Whether a daemon answers this client (one that does not answer within 60 s does not)."""
    try:
        return subprocess.run([client, "info"], capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_daemon(log: Path) -> subprocess.Popen | None:
    """Start ``dockerd`` (root only) and wait until it answers (up to 10 minutes: its first start on a fresh, busy
    machine sets up /var/lib/docker); None when that cannot be done."""
    client, daemon = docker(), shutil.which("dockerd")
    if client is None or daemon is None or os.geteuid() != 0:
        return None
    proc = subprocess.Popen([daemon, "--host", "unix:///var/run/docker.sock"], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if answers(client):
            return proc
        if proc.poll() is not None:
            return None
        time.sleep(0.5)
    stop_daemon(proc)
    return None


def stop_daemon(proc: subprocess.Popen) -> None:
    """Stop a daemon this session started (bounded wait, then SIGKILL)."""
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def build_image(client: str, tag: str = IMAGE) -> None:
    """``make image`` for the CPU build, its output in ``image-*/image-build.log`` of the suite's log folder
    (raises with the build's last lines when it fails)."""
    env = {**os.environ, "DOCKER": client}
    log = service_logs.folder("image") / "image-build.log"
    with log.open("wb") as sink:
        done = subprocess.run([str(REPO / "autograder" / "platforms" / "image" / "build.sh"), "cpu", tag], cwd=REPO,
                              env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=3000)
    if done.returncode != 0:
        raise RuntimeError(f"image build failed (whole log: {log}):\n{log.read_text(errors='replace')[-3000:]}")
