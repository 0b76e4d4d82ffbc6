"""``slurm``: grade an assignment as a SLURM array job, follow it, and merge the shards with ``collect``.

``python -m autograder slurm ASSIGNMENT --shards N`` writes ``slurm/<assignment>/grade.sbatch``
(:mod:`autograder.platforms.slurm.script`), submits it with ``sbatch`` and, with ``--wait``, polls
``squeue`` until no task of the array is left, then merges ``results/<assignment>/`` into the gradebook
with :func:`autograder.host.collect.run`. A task's outcome is its exit file (no accounting database
needed); a failed task is named with its last error line and the exact ``sbatch --array=K`` command that
reruns it. Shards skip students whose results are current and ``collect`` is idempotent, so a rerun
or a second merge changes nothing that was already right.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UserError
from autograder.course.directory import Course
from autograder.host import collect
from autograder.platforms.slurm import script

#: below this much free space in the results folder, nothing is submitted
MIN_FREE_MB = 64
_SUBMITTED = re.compile(r"^Submitted batch job ([0-9]{1,12})\b", re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    """Where the array stands: tasks still queued or running, done, and failed (index -> one-line reason)."""

    pending: list[int]
    done: list[int]
    failed: dict[int, str]


def job_name(root: Path, assignment: str) -> str:
    """The array's job name: the assignment plus a digest of the course folder (two courses never mix)."""
    return f"grade-{assignment}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"


def rerun_command(spec_script: Path, tasks: list[int]) -> str:
    """The exact command that reruns ``tasks`` of the array."""
    return f"sbatch --array={','.join(map(str, tasks))} {shlex.quote(str(spec_script))}"


def _sbatch() -> str:
    found = shutil.which("sbatch")
    if found is None:
        raise UserError("sbatch not found on PATH",
                        "install SLURM's client commands (apt-get install slurm-client) or `module load slurm`")
    return found


def _client(args: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise UserError(f"{args[0]} not found on PATH", "install slurm-client or `module load slurm`") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"{what}: the SLURM controller did not answer within 60 s",
                        "check `sinfo` and SLURM_CONF, then run the same command again") from None


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return " ".join((errors or lines or ["no output"])[-1].split())[:300]


def submit(path: Path, *, tasks: list[int] | None = None, partition: str | None = None) -> int:
    """Submit the array script (only ``tasks`` when given), print sbatch's line, return the job id."""
    args = [_sbatch()] + ([f"--array={','.join(map(str, tasks))}"] if tasks else []) + [str(path)]
    proc = _client(args, "sbatch")
    found = _SUBMITTED.search(proc.stdout)
    if proc.returncode != 0 or not found:
        why = _last_error(proc.stderr + proc.stdout)
        if "invalid partition" in why.lower():
            raise UserError(f"SLURM has no partition {partition!r} ({why})",
                            "pick one that `sinfo -s` lists and pass it as --partition")
        raise UserError(f"sbatch refused {path} ({why})", "check `sinfo -s` and the #SBATCH lines of the script")
    print(found.group(0), flush=True)
    return int(found.group(1))


def queued(name: str) -> list[int]:
    """Array task indices of job ``name`` that SLURM still has queued, running or completing."""
    proc = _client(["squeue", "-h", "-r", "-u", str(os.getuid()), "-n", name, "-o", "%K"], "squeue")
    if proc.returncode != 0:
        raise UserError(f"squeue failed ({_last_error(proc.stderr)})", "check that the SLURM controller answers `sinfo`")
    return sorted({int(w) for w in proc.stdout.split()[:100000] if w.isdigit()})


def _read_exit(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace")[:32].strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _log_error(path: Path) -> str:
    """The last error line of a task's log (its last 64 KiB), for the one-line failure message."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 65536))
            return _last_error(fh.read().decode("utf-8", "replace"))
    except OSError:
        return f"no log at {path}"


def outcome(state: Path, shards: int, pending: list[int]) -> Outcome:
    """Each task's outcome from ``squeue`` (``pending``) and the exit files in ``state``."""
    done, failed = [], {}
    for task in range(shards):
        if task in pending:
            continue
        code = _read_exit(script.exit_file(state, task))
        log = script.log_file(state, task)
        if code == 0:
            done.append(task)
        elif code is None:
            failed[task] = f"ended without an exit status (cancelled, or out of time or memory?): {_log_error(log)}"
        else:
            failed[task] = f"exit {code}: {_log_error(log)}"
    return Outcome([t for t in pending if t < shards], done, failed)


def follow(name: str, state: Path, shards: int, *, poll_s: float = 3, limit_s: float = 7 * 86400) -> Outcome:
    """Poll ``squeue`` until no task of ``name`` is left (at most ``limit_s``), then return the outcome."""
    deadline = time.monotonic() + limit_s
    while pending := queued(name):
        if time.monotonic() > deadline:
            raise UserError(f"array tasks {pending} of {name} still queued after {limit_s:g} s",
                            "merge later with `python -m autograder slurm ASSIGNMENT --collect`")
        time.sleep(poll_s)
    return outcome(state, shards, [])


def _read_state(path: Path) -> int:
    """The shard count of the last submitted array (``array.json``, untrusted)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8")[:4096])
        shards = data["shards"]
        if not isinstance(shards, int) or not 1 <= shards <= 10000:
            raise ValueError("shards out of range")
        return shards
    except FileNotFoundError:
        raise UserError(f"no SLURM array was submitted for this assignment ({path} is missing)",
                        "submit one first: python -m autograder slurm ASSIGNMENT --shards N") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is not a valid array state file ({exc})", "submit the array again") from None


def _check_space(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(folder).free // 2**20
    if free_mb < MIN_FREE_MB:
        raise UserError(f"the results folder {folder} has only {free_mb} MiB free",
                        "free some space on its disk (finished results are kept), then submit again")


def _image_runtime(image: str | None) -> str | None:
    if not image:
        return None
    runtime = shutil.which("apptainer") or shutil.which("singularity")
    if runtime is None:
        print(f"apptainer/singularity not found: grading without the image {image}, with the process sandbox",
              file=sys.stderr)
    return runtime


def _merge(course: Course, out: Path, state: Path, shards: int, result: Outcome) -> int:
    """Report failed tasks with their rerun command, merge what finished; return the exit code."""
    for task, why in sorted(result.failed.items()):
        space = f"free space on the disk of {out}, then " if "no space left" in why.lower() else ""
        print(f"task {task} failed ({why}) — {space}rerun: {rerun_command(state / 'grade.sbatch', [task])}",
              file=sys.stderr)
    if any(out.rglob("result.json")):
        counts = collect.run(course=course, folder=out)
        print(f"{counts['applied']} results applied, {counts['rejected']} rejected (from {out})")
        if counts["rejected"]:
            print("Error: some result files were rejected (named above) — fix or remove them, then run "
                  "`python -m autograder slurm ASSIGNMENT --collect` again", file=sys.stderr)
            return 1
    if result.failed:
        failed = sorted(result.failed)
        print(f"Error: {len(failed)} of {shards} array tasks failed (finished results are merged) — rerun them: "
              f"{rerun_command(state / 'grade.sbatch', failed)}, then: python -m autograder slurm "
              f"{state.name} --collect --wait", file=sys.stderr)
        return 1
    return 0


def run(*, course: Course, assignment: str, shards: int | None = None, partition: str | None = None,
        gpus_per_shard: int = 0, cpus_per_shard: int = 1, mem: str | None = None, time_limit: str | None = None,
        image: str | None = None, wait: bool = False, dry_run: bool = False, collect_only: bool = False,
        poll_s: float = 3) -> int:
    """Write, submit, follow and merge the array job (or only merge, ``collect_only``); return the exit code."""
    root = course.root
    state, out = root / "slurm" / assignment, root / "results" / assignment
    name = job_name(root, assignment)
    if collect_only:
        count = _read_state(state / "array.json")
        if wait:
            return _merge(course, out, state, count, follow(name, state, count, poll_s=poll_s))
        pending = queued(name)
        if pending:
            raise UserError(f"array tasks {', '.join(map(str, pending))} of {name} are still queued or running",
                            f"merge after they end: python -m autograder slurm {assignment} --collect --wait")
        return _merge(course, out, state, count, outcome(state, count, []))
    if shards is None:
        raise UserError("--shards is missing", "say how many array tasks to split the grading into, e.g. --shards 4")
    submitted = root / "submitted"
    if not any((p / assignment).is_dir() for p in (submitted.iterdir() if submitted.is_dir() else [])):
        raise UserError(f"no submissions of {assignment!r} in {submitted}", "collect the submissions first")
    spec = script.ArraySpec(
        assignment=assignment, shards=shards, root=root, submitted=submitted, out=out, state=state,
        python=Path(sys.executable).absolute(), job_name=name, partition=partition, gpus_per_shard=gpus_per_shard,
        cpus_per_shard=cpus_per_shard, mem=mem, time=time_limit, image=image,
        runtime=None if dry_run else _image_runtime(image))
    text = script.render(spec)
    path = state / "grade.sbatch"
    try:
        state.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror})", "free space or fix the folder's permissions") from None
    if dry_run:
        print(text, end="")
        print(f"# written to {path}; submit with: sbatch {shlex.quote(str(path))}", file=sys.stderr)
        return 0
    _sbatch()
    if pending := queued(name):
        raise UserError(f"array tasks {', '.join(map(str, pending))} of {name} are still queued or running",
                        f"wait for them (python -m autograder slurm {assignment} --collect --wait) or `scancel -n {name}`")
    _check_space(out)
    for stale in state.glob("task-*.exit"):
        stale.unlink(missing_ok=True)
    (state / "array.json").write_text(json.dumps({"shards": shards, "job_name": name}), encoding="utf-8")
    job = submit(path, partition=partition)
    if not wait:
        print(f"follow it with `squeue -j {job}`; merge when it ends: "
              f"python -m autograder slurm {assignment} --collect (add --wait to wait for it)")
        return 0
    print(f"waiting for its {shards} tasks to end (squeue -j {job}; logs in {state}) ...", flush=True)
    return _merge(course, out, state, shards, follow(name, state, shards, poll_s=poll_s))
