"""The ``sbatch`` array script: task ``K`` of the array grades shard ``K`` of ``N`` with ``autograder shard``.

Each task writes ``STATE/task-K.log`` (its output) and, when its command has ended,
``STATE/task-K.exit`` (the exit status, written atomically), so that a task's outcome is known without
SLURM's accounting database. A task killed by SLURM (time or memory limit, node failure) leaves no
exit file. Rerunning one task is ``sbatch --array=K SCRIPT``: the script holds every option.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UserError

_PARTITION = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_MEMORY = re.compile(r"[0-9]{1,9}[KMGT]?")
_TIME = re.compile(r"[0-9]{1,5}(-[0-9]{1,2})?(:[0-9]{1,2}){0,2}")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


@dataclass(frozen=True)
class ArraySpec:
    """Everything the array script needs; paths absolute."""

    assignment: str
    shards: int
    root: Path
    submitted: Path
    out: Path
    state: Path
    python: Path
    job_name: str
    partition: str | None = None
    gpus_per_shard: int = 0
    cpus_per_shard: int = 1
    mem: str | None = None
    time: str | None = None
    image: str | None = None
    runtime: str | None = None  # apptainer or singularity binary, with ``image``

    def validate(self) -> None:
        """Reject values that SLURM would refuse or that do not belong in a shell script (UserError)."""
        checks = [
            (1 <= self.shards <= 10000, f"--shards {self.shards}", "use 1 to 10000 shards"),
            (0 <= self.gpus_per_shard <= 64, f"--gpus-per-shard {self.gpus_per_shard}", "use 0 to 64"),
            (1 <= self.cpus_per_shard <= 1024, f"--cpus-per-shard {self.cpus_per_shard}", "use 1 to 1024"),
            (self.partition is None or _PARTITION.fullmatch(self.partition), f"--partition {self.partition!r}",
             "name a partition that `sinfo -s` lists"),
            (self.mem is None or _MEMORY.fullmatch(self.mem), f"--mem {self.mem!r}", "use e.g. 6G or 6000M"),
            (self.time is None or _TIME.fullmatch(self.time), f"--time {self.time!r}",
             "use SLURM's form, e.g. 2:00:00 or 1-00:00:00"),
            (_NAME.fullmatch(self.assignment) and _NAME.fullmatch(self.job_name), f"assignment {self.assignment!r}",
             "use the assignment's folder name"),
            (not any(ch.isspace() for ch in f"{self.root}{self.state}"), f"course folder {str(self.root)!r}",
             "#SBATCH lines cannot hold a path with spaces: move the course to a path without them"),
        ]
        for ok, what, fix in checks:
            if not ok:
                raise UserError(f"{what} is not valid", fix)


def exit_file(state: Path, task: int) -> Path:
    """Where task ``task`` writes its exit status."""
    return state / f"task-{task}.exit"


def log_file(state: Path, task: int) -> Path:
    """Where task ``task`` writes its output."""
    return state / f"task-{task}.log"


def shard_command(spec: ArraySpec) -> list[str]:
    """The command one task runs (``$task`` stands for its index), inside the image when one is used."""
    q = shlex.quote
    args = ["-m", "autograder", "shard", spec.assignment, "--index", '"$task"', "--count", str(spec.shards),
            "--jobs", str(spec.cpus_per_shard), "--submitted", q(str(spec.submitted)), "--out", q(str(spec.out)),
            "--course", q(str(spec.root))]
    if spec.image and spec.runtime:
        gpu = ["--nv"] if spec.gpus_per_shard else []
        # Apptainer runs the image as you: the grader imports the kit from your checkout, since the image's own
        # judge is readable by root only (a kernel there must not read it)
        kit = str(Path(__file__).resolve().parents[3])
        binds = [a for folder in dict.fromkeys([str(spec.root), kit]) for a in ("--bind", q(folder))]
        return [q(spec.runtime), "exec", *gpu, *binds, "--env", q(f"PYTHONPATH={kit}"), q(spec.image), "python", *args]
    return [q(str(spec.python)), *args]


def render(spec: ArraySpec) -> str:
    """The text of the array script."""
    spec.validate()
    q = shlex.quote
    options = [f"--job-name={spec.job_name}", f"--array=0-{spec.shards - 1}",
               f"--output={spec.state}/task-%a.log", f"--chdir={spec.root}", f"--cpus-per-task={spec.cpus_per_shard}",
               "--ntasks=1"]
    options += [f"--partition={spec.partition}"] if spec.partition else []
    options += [f"--mem={spec.mem}"] if spec.mem else []
    options += [f"--time={spec.time}"] if spec.time else []
    options += [f"--gres=gpu:{spec.gpus_per_shard}"] if spec.gpus_per_shard else []
    lines = [
        "#!/bin/bash",
        f"# Grade {spec.assignment!s} as a SLURM array job: task K grades shard K of {spec.shards}.",
        "# Written by `python -m autograder slurm`. Rerun one task: sbatch --array=K " + q(str(spec.state / "grade.sbatch")),
        *(f"#SBATCH {o}" for o in options),
        "set -u",
        'task="${SLURM_ARRAY_TASK_ID:?submit this script with sbatch}"',
        f"state={q(str(spec.state))}",
        'rm -f "$state/task-$task.exit"',
        f"export PATH={q(str(spec.python.parent))}:\"$PATH\" TF_CPP_MIN_LOG_LEVEL=2",
        'echo "task $task of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname -s), $(date -Is)"',
        " ".join(shard_command(spec)),
        "status=$?",
        'printf "%s\\n" "$status" > "$state/task-$task.exit.part" && mv -f "$state/task-$task.exit.part" "$state/task-$task.exit"',
        'exit "$status"',
        "",
    ]
    return "\n".join(lines)
