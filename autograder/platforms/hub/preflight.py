"""Every check the course hub makes before it creates or starts anything: one line per problem, with the fix.

Nothing is half set up: accounts, exchange folders and the hub are only touched once all of these pass.
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from autograder.errors import UserError
from autograder.platforms.hub import accounts, exchange
from autograder.platforms.hub.settings import HubPlan

__all__ = ["check", "ports", "problems"]

TOOLS = ("useradd", "chpasswd", "usermod")


def ports(plan: HubPlan) -> dict[int, str]:
    """The ports the hub listens on, with what each is for."""
    return {plan.port: "the hub (proxy)", plan.port + 1: "the hub's API", plan.formgrader_port: "the Formgrader service",
            plan.port + 3: "the proxy's API"}


def _port_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the servers do: a port left in TIME_WAIT by a hub that just stopped is free for them
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def problems(plan: HubPlan, *, proxy: Path, venv_bin: Path) -> list[str]:
    """All problems found, in the order a reader fixes them."""
    out: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        out.append("the hub starts each person's server as their own Unix account, which needs root: "
                   "run it with sudo (or write the configuration for an existing hub with --config-only DIR)")
    if not (proxy.is_file() and os.access(proxy, os.X_OK)):
        found = shutil.which("configurable-http-proxy")
        if found is None:
            out.append(f"configurable-http-proxy is not installed ({proxy}): run `make hub-deps` (npm install)")
    if not (venv_bin / "jupyterhub-singleuser").is_file():
        out.append(f"JupyterHub is not installed in {venv_bin.parent}: run `make setup`")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            out.append(f"{tool} is missing: install Debian's passwd package (apt-get install passwd)")
    if not 0 < plan.port < 65533:
        out.append(f"--port {plan.port} is not a TCP port the hub can use (it also takes the next three): "
                   "pick one between 1024 and 65000")
    else:
        for port, what in ports(plan).items():
            if not _port_free(plan.ip, port):
                out.append(f"port {port} on {plan.ip} ({what}) is in use: stop what listens there or pick another "
                           "--port (the hub takes it and the next three)")
    if not (plan.root / "release").is_dir():
        out.append(f"{plan.root} has no release/ folder: run `make release` first")
    for path in (plan.root, venv_bin.parent / 'lib'):
        line = accounts.reachable_problem(path)
        if line:
            out.append(line)
    out += exchange.problems(plan)
    out += accounts.problems(plan)
    return out


def check(plan: HubPlan, *, proxy: Path, venv_bin: Path) -> None:
    """Raise :class:`UserError` listing every problem (the first in the message line, the rest after it)."""
    found = problems(plan, proxy=proxy, venv_bin=venv_bin)
    if found:
        more = "".join(f"\n  also: {line}" for line in found[1:])
        raise UserError(found[0] + more, "nothing was set up; fix the above and start the hub again")
