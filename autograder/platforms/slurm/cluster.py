"""A one-machine SLURM cluster in a temporary folder, for ``make slurm-demo`` and the tests.

Everything lives in one folder: a private munge key and socket, ``slurm.conf`` (one node sized from
the machine's cores and memory, one default partition, ports that were free), state, spool and log
files. ``munged``, ``slurmctld`` and ``slurmd`` run as root in the foreground as children of this
process, each in its own session, so that :meth:`Cluster.stop` ends exactly what :func:`start`
started. Client commands find the cluster through ``SLURM_CONF`` (:meth:`Cluster.env`).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UserError

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "sinfo", "squeue", "scancel")
INSTALL = "apt-get install slurm-wlm munge (or `make system-deps`), then run it as root"
PARTITION = "grading"


def answers(env: dict[str, str] | None = None, timeout: float = 10) -> bool:
    """Whether a SLURM controller answers ``sinfo`` with the configuration in ``env`` (default: ours)."""
    if shutil.which("sinfo") is None:
        return False
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%P"], env=env, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def missing() -> str | None:
    """Why a cluster cannot be started here (one line), or None when it can."""
    absent = [name for name in DAEMONS + CLIENTS if _binary(name) is None]
    if absent:
        return f"{', '.join(absent)} not found — {INSTALL}"
    if os.geteuid() != 0:
        return f"starting a one-machine SLURM cluster needs root (slurmd runs jobs as their user) — {INSTALL}"
    return None


def _binary(name: str) -> str | None:
    return shutil.which(name) or next((str(p) for d in ("/usr/sbin", "/sbin") if (p := Path(d) / name).is_file()),
                                      None)


def _free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (the kernel's choice; released again before the daemons bind them)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _memory_mb() -> int:
    """Total memory in MiB, from /proc/meminfo (bounded parse)."""
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh.read(65536).splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise UserError("/proc/meminfo has no MemTotal line", "start the cluster on a Linux machine")


def config(folder: Path, *, node: str, cpus: int, memory_mb: int, ports: tuple[int, int]) -> str:
    """``slurm.conf`` of the one-machine cluster whose files live in ``folder``."""
    return "\n".join([
        "ClusterName=autograder",
        f"SlurmctldHost={node}(127.0.0.1)",
        f"SlurmctldPort={ports[0]}",
        f"SlurmdPort={ports[1]}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={folder / 'munge.socket'}",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        "SlurmdTimeout=60",
        "MinJobAge=600",
        # the daemons look for the node under this name; NodeAddr keeps everything on the loopback
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


@dataclass
class Cluster:
    """The running one-machine cluster: its folder, config file and daemon processes."""

    folder: Path
    conf: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment for SLURM's client commands (``SLURM_CONF`` pointing at this cluster)."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of each daemon's log (for error messages)."""
        out = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log"):
            path = self.folder / name
            if path.is_file():
                with open(path, "rb") as fh:
                    fh.seek(max(0, path.stat().st_size - 8192))
                    text = fh.read().decode("utf-8", "replace").splitlines()[-lines:]
                out.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        """Cancel the cluster's jobs and end its daemons (TERM, then KILL after 10 s). Safe to call twice."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            try:
                subprocess.run(["scancel", "--full", "--user", str(os.geteuid())], env=self.env(),
                               capture_output=True, timeout=15)
                _wait_for(lambda: not _queue(self.env()), 15)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for name in reversed(DAEMONS):
            proc = self.processes.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _queue(env: dict[str, str]) -> bool:
    proc = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True, timeout=15)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _wait_for(ready, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.5)
    return False


def start(folder: Path, *, timeout: float = 60) -> Cluster:
    """Start munged, slurmctld and slurmd with their files in ``folder``; return once ``sinfo`` sees an idle node.

    Raises :class:`UserError` (with the daemons' log tails) when something is missing or does not come up,
    after stopping whatever did start.
    """
    why = missing()
    if why:
        raise UserError("cannot start a one-machine SLURM cluster", why)
    folder = Path(folder).resolve()
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    conf = folder / "slurm.conf"
    conf.write_text(config(folder, node=node, cpus=cpus, memory_mb=max(256, int(_memory_mb() * 0.9)),
                           ports=tuple(_free_ports(2))), encoding="utf-8")
    cluster = Cluster(folder, conf)
    commands = {
        "munged": [_binary("munged"), "--foreground", "--force", f"--socket={folder / 'munge.socket'}",
                   f"--key-file={key}", f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
                   f"--seed-file={folder / 'munged.seed'}"],
        "slurmctld": [_binary("slurmctld"), "-D", "-c", "-i", "-f", str(conf)],
        "slurmd": [_binary("slurmd"), "-D", "-f", str(conf), "-N", node],
    }
    try:
        for name, command in commands.items():
            with open(folder / f"{name}.out", "ab") as out:
                cluster.processes[name] = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                                           stderr=subprocess.STDOUT, start_new_session=True,
                                                           env=cluster.env())
            if name == "munged" and not _wait_for(lambda: (folder / "munge.socket").exists(), timeout):
                raise UserError("munged did not start", f"see {folder / 'munged.log'}")
        if not _wait_for(lambda: _idle(cluster), timeout):
            raise UserError(f"the one-machine SLURM cluster did not come up within {timeout:g} s",
                            f"see the logs in {folder}:\n{cluster.log_tail()}")
        for name, proc in cluster.processes.items():
            if proc.poll() is not None:
                raise UserError(f"{name} exited with status {proc.returncode}", f"see {folder / (name + '.log')}")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _idle(cluster: Cluster) -> bool:
    """Whether the node is up and can take jobs (idle or mixed), as sinfo says."""
    if any(p.poll() is not None for p in cluster.processes.values()):
        raise UserError("a SLURM daemon exited while starting", f"see the logs in {cluster.folder}:\n{cluster.log_tail()}")
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%t"], env=cluster.env(), capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and any(s.strip().rstrip("*") in ("idle", "mix", "alloc")
                                        for s in proc.stdout.splitlines())
