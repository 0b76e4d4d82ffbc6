"""Fixtures of the lab tests: the synthetic dataset, per-user environments, Chromium, free ports."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
# Environment variables that would let a test see the machine's own Jupyter or nbgrader setup.
_PRIVATE_PREFIXES = ("JUPYTER", "JPY_", "NBGRADER", "IPYTHON")


@pytest.fixture(scope="session")
def dataset() -> Path:
    """The synthetic dataset the notebook trains on, made with data_fetch when it is missing."""
    dest = ROOT / "data" / "synthetic"
    if not (dest / "manifest.json").is_file():
        done = subprocess.run([sys.executable, "-m", "data_fetch", "synthetic", "--frames", "240", "--dest", str(dest)],
                              cwd=ROOT, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"python -m data_fetch synthetic failed: {done.stderr.strip()[-500:]}")
    return dest


@pytest.fixture(scope="session")
def user_env() -> Callable[..., dict[str, str]]:
    """A function: a clean environment for a user with HOME=home (no inherited Jupyter/nbgrader settings)."""
    def make(home: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_PREFIXES)}
        home.mkdir(parents=True, exist_ok=True)
        env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                   TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        env.pop("XDG_CONFIG_HOME", None)
        env.pop("XDG_DATA_HOME", None)
        env.pop("XDG_RUNTIME_DIR", None)
        env.update(extra)
        return env
    return make


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with .ci/system-deps.sh when missing (skips when that is impossible)."""
    if not CHROMIUM.exists():
        if shutil.which("dpkg-query") is None or shutil.which("apt-get") is None:
            pytest.skip("/usr/bin/chromium is missing and this is not a Debian system with apt-get")
        if os.geteuid() != 0:
            pytest.skip("/usr/bin/chromium is missing and installing it needs root: "
                        "sudo .ci/system-deps.sh chromium")
        done = subprocess.run([str(ROOT / ".ci" / "system-deps.sh"), "chromium"], capture_output=True, text=True,
                              timeout=900)
        if done.returncode != 0 or not CHROMIUM.exists():
            pytest.skip(f"could not install chromium with .ci/system-deps.sh: {(done.stderr or done.stdout).strip()[-300:]}")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function: a TCP port on 127.0.0.1 that nothing listens on right now."""
    return _free_port


_SCREENSHOTS = pytest.StashKey[list[Path]]()


@dataclass
class Shots:
    """Numbered screenshots of one test in its tmp folder; every path is printed for the CI log."""

    folder: Path
    registry: list[Path]
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Any, name: str, element: Any = None, block: str = "end") -> Path:
        """Screenshot the page, first scrolling ``element`` to the ``block`` edge (start/center/end) of its view."""
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        if element is not None:
            # Off-screen cells are rendered lazily (content-visibility), so heights change as the notebook
            # scrolls: scroll again until the element stays put.
            for _ in range(3):
                element.evaluate(f"e => e.scrollIntoView({{block: '{block}'}})")
                page.wait_for_timeout(400)
        page.screenshot(path=str(path), timeout=60_000)
        self.taken.append(path)
        self.registry.append(path)
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Shots:
    """Screenshots saved under the test's tmp folder, listed at the end of the pytest run."""
    return Shots(tmp_path, request.config.stash.setdefault(_SCREENSHOTS, []))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """List every screenshot the lab tests took, passed or failed (CI keeps the log)."""
    paths = config.stash.get(_SCREENSHOTS, [])
    if paths:
        terminalreporter.section("lab screenshots")
        for path in paths:
            terminalreporter.write_line(str(path))
