"""Grading in containers: one ``docker run`` of the grading image per submission.

The host lays out each submission's scratch folder (job file, a copy of the assignment's
definition, the course's config and data files, a copy of the submission; all root's alone, umask 077)
and starts the image's worker on it::

    docker run --network none --read-only --memory ... --pids-limit ... IMAGE \
        python -m autograder.run.worker /job/job.json

Inside, the worker starts as root with every capability dropped except the few it needs to hand
the student's kernel its own unprivileged uid (the same sandbox code as process grading, minus
the namespaces a container already gives). Only the scratch folder (read-write, owned by root)
and the dataset (read-only) are mounted; the kernel's own folders are a
size-limited tmpfs, so a submission that fills its disk fills only that. The worker leaves
``result.json`` in the scratch folder; the host validates it and writes the gradebook.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import sys
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from autograder.contracts.job import Job
from autograder.course import scratch as scratch_course
from autograder.course.directory import Course
from autograder.errors import UserError
from autograder.sandbox.limits import Limits

#: Capabilities the in-container worker keeps: create the kernel's folders for its uid, switch to
#: that uid, and kill what it leaves behind. Everything else (mounts, network, ptrace...) is dropped.
CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL")
#: Exit codes of ``docker run`` itself (not of the command in the container).
DOCKER_FAILURES = {125: "docker could not create or start the container",
                   126: "the container's command could not be run",
                   127: "the container's command was not found"}


@dataclass
class Options:
    """How to run the grading containers."""

    image: str
    gpus: str | None = None
    docker: str = "docker"
    disk_mb: int = 1024


def docker_binary(configured: str = "") -> str:
    """The Docker client: ``$AUTOGRADER_DOCKER``, else ``configured`` (``c.Autograder.docker``), else ``docker`` on PATH."""
    return os.environ.get("AUTOGRADER_DOCKER") or configured or shutil.which("docker") or "docker"


def preflight(opts: Options) -> Options:
    """Check the client, the daemon, the image and (when asked) the GPUs before grading starts.

    A missing client, daemon or image is a :class:`UserError`; GPUs Docker cannot give fall back
    to CPU with a warning.
    """
    if shutil.which(opts.docker) is None and not Path(opts.docker).is_file():
        raise UserError(f"--container: the Docker client `{opts.docker}` is not installed",
                        "install Docker (Debian: apt-get install docker.io) or grade without --container")
    try:
        done = subprocess.run([opts.docker, "image", "inspect", "--format", "{{.Id}}", opts.image],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise UserError("--container: the Docker daemon did not answer within 60 s", "check `docker info`") from None
    if done.returncode != 0:
        err = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no answer"
        if "daemon" in err.lower() or "connect" in err.lower():
            raise UserError(f"--container: no Docker daemon answers ({err})", "start it (dockerd, or systemctl start docker)")
        raise UserError(f"--container: image {opts.image} not found", "build it with `make image` (or `make image GPU=1`)")
    if opts.gpus:
        probe = subprocess.run([opts.docker, "run", "--rm", "--network", "none", "--gpus", opts.gpus, opts.image,
                                "python", "-c", "import ctypes; ctypes.CDLL('libcuda.so.1')"],
                               capture_output=True, text=True, timeout=300)
        if probe.returncode != 0:
            why = (probe.stderr.strip().splitlines() or ["no GPU"])[-1][:160]
            print(f"Warning: --gpus {opts.gpus}: Docker cannot give this image a GPU ({why}); grading on CPU",
                  file=sys.stderr)
            opts = Options(opts.image, None, opts.docker, opts.disk_mb)
    return opts


def prepare(scratch: Path, course: Course, assignment: str, template: Path) -> None:
    """Copy what the worker needs into the scratch folder: config, data files, release, definition."""
    inside = scratch_course.build(scratch / "course", origin=course.root, assignment=assignment, release=True,
                                  source="files", references=False)  # solutions never enter the container: the
    # judge's bundles travel in the job file, which only root reads
    shutil.copyfile(template, scratch / "template.db")
    # the kernel runs under another uid in the container: what it must not read is root's alone
    os.chmod(inside, 0o700)
    os.chmod(scratch / "template.db", 0o600)


def container_job(job: Job, *, slot: int, threads: int, uid: int | None = None) -> Job:
    """The worker's job as seen inside the container (paths under ``/job``).

    ``uid``: the kernel's uid, claimed on the host: containers share the host's uids, and a grading
    run on the host kills what its own kernels' uids leave behind.
    """
    return dataclasses.replace(job, root="/job/course", scratch="/job", template_db="/job/template.db",
                               submission_dir="/job/submission", release_dir=f"/job/course/release/{job.assignment}",
                               policy=None, in_container=True, slot=slot, threads=threads, uid=uid)


def run_command(opts: Options, *, name: str, scratch: Path, data: Path | None,
                limits: Limits, cpus: int) -> list[str]:
    """The ``docker run`` command line for one submission."""
    cmd = [opts.docker, "run", "--name", name, "--init", "--network", "none", "--read-only",
           "--user", "0:0", "--cap-drop", "ALL", *[a for c in CAPABILITIES for a in ("--cap-add", c)],
           "--security-opt", "no-new-privileges",
           "--memory", f"{limits.memory_mb}m", "--memory-swap", f"{limits.memory_mb}m",
           "--pids-limit", str(limits.nproc), "--cpus", str(cpus),
           "--tmpfs", f"/tmp:size={limits.tmp_size_mb}m,mode=1777",
           "--tmpfs", "/home/grader:size=64m,mode=0755",
           "--mount", f"type=bind,src={scratch},dst=/job",
           "--mount", f"type=tmpfs,dst=/job/box,tmpfs-size={opts.disk_mb * 2**20},tmpfs-mode=0711",
           "--label", "unet-grader=1"]
    if data is not None:
        cmd += ["--mount", f"type=bind,src={data},dst=/data,readonly", "--env", "UNET_DATA_DIR=/data"]
    if opts.gpus:
        cmd += ["--gpus", opts.gpus]
    return cmd + [opts.image, "python", "-m", "autograder.run.worker", "/job/job.json"]


def launch(opts: Options, *, name: str, scratch: Path, job: Job, uid: int | None = None, submission: Path, data: Path | None,
           limits: Limits, slot: int, cpus: int) -> subprocess.Popen:
    """Write the container's job file and start ``docker run`` (its output goes to worker.log)."""
    container_job(job, slot=slot, threads=cpus, uid=uid).write(scratch / "job.json")  # 0600
    # a private copy (regular files only, root's alone), not a bind of the course's folder: every entry of the job
    # folder but the box must be unreadable by the kernel, whatever modes the submission had on the host
    old_umask = os.umask(0o077)
    try:
        scratch_course.copy_files(submission, scratch / "submission")
    finally:
        os.umask(old_umask)
    log = open(scratch / "worker.log", "wb")
    os.chmod(scratch / "worker.log", 0o600)
    try:
        return subprocess.Popen(run_command(opts, name=name, scratch=scratch, data=data,
                                            limits=limits, cpus=cpus),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()


def oom_killed(opts: Options, name: str) -> bool:
    """Whether Docker reports the container as killed for memory."""
    done = subprocess.run([opts.docker, "inspect", "--format", "{{.State.OOMKilled}}", name],
                          capture_output=True, text=True, timeout=60)
    return done.returncode == 0 and done.stdout.strip() == "true"


def remove(opts: Options, name: str, wait_s: float = 120) -> None:
    """Kill and remove the container, and wait (bounded) until Docker no longer knows it: a busy daemon can refuse
    a removal ("already in progress", "did not receive an exit event"), so it is asked again. A missing
    container is fine."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            subprocess.run([opts.docker, "rm", "--force", name], capture_output=True,
                           timeout=max(1.0, deadline - time.monotonic()))
            known = subprocess.run([opts.docker, "inspect", "--format", "{{.Id}}", name], capture_output=True,
                                   timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return
        if known.returncode != 0:  # no such container: removed
            return
        time.sleep(0.5)


def data_dir() -> Path | None:
    """The host's dataset, mounted read-only into every container (None: the image's own)."""
    try:
        from data_fetch.layout import dataset_dir

        return dataset_dir().resolve()
    except (ImportError, FileNotFoundError):
        return None
