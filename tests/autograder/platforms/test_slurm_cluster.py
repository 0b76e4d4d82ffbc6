"""The one-machine SLURM cluster of ``make slurm-demo`` and the tests: sized from the machine, runs an array job,
and stops every daemon it started."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from autograder.platforms.slurm import cluster  # noqa: E402


def test_config_has_one_node_sized_from_the_machine_and_a_default_partition(tmp_path: Path) -> None:
    text = cluster.config(tmp_path, node="n1", cpus=6, memory_mb=9000, ports=(7001, 7002))
    lines = text.splitlines()
    assert "NodeName=n1 NodeAddr=127.0.0.1 CPUs=6 RealMemory=9000 State=UNKNOWN" in lines
    assert f"PartitionName={cluster.PARTITION} Nodes=n1 Default=YES MaxTime=INFINITE State=UP" in lines
    assert {"SlurmctldPort=7001", "SlurmdPort=7002", "SlurmUser=root", "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none", f"AuthInfo=socket={tmp_path / 'munge.socket'}"} <= set(lines)
    assert all(str(tmp_path) in line for line in lines if "File=" in line or "Location=" in line or "Dir=" in line)


@pytest.mark.slurm
def test_cluster_runs_an_array_and_stop_ends_its_daemons(tmp_path: Path, slurm_cluster: cluster.Cluster) -> None:
    """The session's cluster runs an array; then this test stops it (the next test that needs one starts another)."""
    started = slurm_cluster
    pids = {name: p.pid for name, p in started.processes.items()}
    try:
        env = started.env()
        info = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %c %P"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert info.stdout.split() == [os.uname().nodename.split(".")[0], str(os.cpu_count()), "grading*"]
        job = tmp_path / "job.sh"
        job.write_text("#!/bin/bash\nexit $SLURM_ARRAY_TASK_ID\n")
        sub = subprocess.run(["sbatch", "--array=0-1", f"--output={tmp_path}/o-%a.log", str(job)], env=env,
                             capture_output=True, text=True, timeout=300)
        assert sub.returncode == 0 and sub.stdout.startswith("Submitted batch job "), sub.stderr
        deadline = time.monotonic() + 600  # two tasks that only exit: seconds, even on a busy machine
        while subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True, timeout=300).stdout.strip():
            assert time.monotonic() < deadline, "the array did not finish within 600 s"
            time.sleep(0.5)
        states = subprocess.run(["scontrol", "show", "job", sub.stdout.split()[-1]], env=env, capture_output=True,
                                text=True, timeout=300).stdout
        assert "JobState=COMPLETED" in states and "JobState=FAILED" in states
    finally:
        started.stop()
    assert started.processes == {}
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(), name
    assert not cluster.answers(started.env(), timeout=5)
