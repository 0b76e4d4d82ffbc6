"""``python -m autograder hub``: check, set up and start the course's JupyterHub on this machine (or only write its
configuration for an existing hub with ``config_only``)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from autograder.errors import UserError
from autograder.platforms.hub import accounts, files, preflight, seatenv
from autograder.platforms.hub.settings import HubPlan, plan as make_plan

__all__ = ["prepare", "run"]


def _proxy() -> Path:
    if files.PROXY.is_file():
        return files.PROXY
    found = shutil.which("configurable-http-proxy")
    return Path(found) if found else files.PROXY


def prepare(plan: HubPlan) -> tuple[list[str], dict[str, str], Path]:
    """Check, then create accounts, exchange and configuration; returns (argv, env, cwd) of the hub. Root only."""
    proxy = _proxy()
    hub_bin = files.kit_bin(plan.root)  # the hub itself runs the kit's environment, as root
    preflight.check(plan, proxy=proxy, venv_bin=hub_bin)
    state = plan.state
    state.mkdir(parents=True, exist_ok=True)
    secret = state / "secret"
    secret.mkdir(exist_ok=True)
    os.chmod(secret, 0o700)
    accounts.create(plan, secret)  # the course account first: the exchange folders are its
    os.chmod(state, 0o755)  # the servers read their seat's settings (and maybe the seat environment) from here
    venv_bin = seatenv.ensure(hub_bin, state)
    files.write(plan, state, proxy=proxy, venv_bin=venv_bin)
    done = subprocess.run(["sh", str(state / "exchange-setup.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"{state / 'exchange-setup.sh'} failed ({done.stderr.strip()[:300]})",
                        "fix the exchange folder named there, then start the hub again")
    env = {**os.environ, "PATH": f"{hub_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "UNET_HUB_DIR": str(state)}
    return [str(hub_bin / "jupyterhub"), "-f", str(state / "jupyterhub_config.py")], env, secret


def run(*, root: Path, roster: Path | None = None, ip: str = "127.0.0.1", port: int = 8000,
        config_only: Path | None = None, state: Path | None = None, exchange: Path | None = None) -> int:
    """Start the course hub and wait for it (Ctrl-C stops it), or with ``config_only`` write its configuration there.

    Raises :class:`UserError` for a bad roster or config, or any problem :mod:`.preflight` finds; nothing is created
    then.
    """
    plan = make_plan(root=root, roster=roster, ip=ip, port=port, exchange=exchange, state=state)
    if config_only is not None:
        written = files.write(plan, Path(config_only), proxy=_proxy())
        print(f"course hub configuration for {plan.course_id} in {config_only} ({len(written)} files): "
              f"course_hub_config.py and hub.json for an existing hub (TLJH: jupyterhub_config.d/), "
              f"z2jh-values.yaml for Zero to JupyterHub, exchange-setup.sh to run as root")
        return 0
    argv, env, cwd = prepare(plan)
    students = len(plan.named("student"))
    print(f"Course hub for {plan.course_id} on http://{plan.ip}:{plan.port}/ -- instructors "
          f"{', '.join(plan.named('instructor'))}; {len(plan.named('assistant'))} assistants; {students} students; "
          f"Formgrader at /services/{plan.course_id}/formgrader. First passwords of new accounts: "
          f"{cwd / 'passwords.csv'}. Stop it with Ctrl-C.", flush=True)
    proc = subprocess.Popen(argv, env=env, cwd=cwd)
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
