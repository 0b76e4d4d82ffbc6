"""Grade one submission in a private scratch course: ``python -m autograder.run.worker JOB.json``.

Runs as a separate (trusted) process. It never opens the course gradebook: it grades with
nbgrader's own ``Autograde`` converter into a scratch course whose gradebook is a copy of the
assignment's definition, with the kernel in the sandbox, then writes the scores nbgrader
saved into a result JSON (:mod:`autograder.contracts.results`). The job file is a
:class:`autograder.contracts.job.Job` (its fields and their checks are there).
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sys
import warnings
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import nbformat

from autograder.contracts import results
from autograder.contracts.fields import ContractError
from autograder.contracts.job import Job
from autograder.run import triage
from autograder.course.directory import fingerprint, load_config
from autograder.course.definition import AssignmentDef
from autograder.contracts.results import CellGrade, NotebookResult, Result
from autograder.course import scratch as scratch_course
from autograder.course.placeholders import banner, placeholder_notebooks, zero_scores
from autograder.sandbox import boxfs, limits as sandbox
from autograder.sandbox.launch import die_with_parent
from autograder.sandbox.limits import KERNEL_NAME, Limits, write_kernelspec

# nbgrader's add_submission builds rows before adding them; SQLAlchemy warns, harmlessly.
warnings.filterwarnings("ignore", message=".*not in session.*")

KNOWN_FAILURES = (
    ("DeadKernelError", "kernel_died", "the kernel died while running the notebook (e.g. os._exit, a crash or memory)"),
    ("UnresponsiveKernelError", "timeout", "the kernel stopped responding and could not be interrupted"),
    ("MemoryError", "memory", "ran out of memory"),
)


def build_scratch(job: Job) -> Path:
    """Lay out the scratch course: gradebook copy, source data files, the submission's regular files."""
    scratch = Path(job.scratch)
    # The judge's bundles travel in the job (job.definition), never as files: a grading container's kernel shares
    # this file system, and the scratch course sits beside its box.
    scratch_course.build(scratch, origin=Path(job.root), assignment=job.assignment, config=False, source="files",
                         gradebook=Path(job.template_db), references=False)
    scratch_course.copy_files(Path(job.submission_dir), scratch / "submitted" / job.student / job.assignment)
    for d in ("source", "submitted"):
        os.chmod(scratch / d, 0o700)
    return scratch


def nbgrader_config(job: Job, limits: Limits) -> Any:
    """The course's nbgrader config, pointed at the scratch course and the sandboxed kernel."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds,
                                        IgnorePattern, LimitOutput, OverwriteCells, OverwriteKernelspec,
                                        SaveAutoGrades)

    from autograder.run.judge.preprocessor import JudgeEvidence
    from autograder.run.nbhooks import (LimitOutputBytes, RestoreStudentOutputs, SandboxedExecute,
                                        StashStudentOutputs)

    scratch = Path(job.scratch)
    box = scratch / "box"
    cfg = load_config(Path(job.root))
    cfg.CourseDirectory.root = str(scratch)
    cfg.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    cfg.CourseDirectory.course_id = job.course_id
    cfg.CourseDirectory.assignment_id = job.assignment
    cfg.CourseDirectory.student_id = job.student
    # nbgrader's sanitize step, with the outputs of cells tagged keep-student-output stashed before clearing
    cfg.Autograde.sanitize_preprocessors = [
        StashStudentOutputs, ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]
    cfg.Autograde.autograde_preprocessors = [
        SandboxedExecute, RestoreStudentOutputs, JudgeEvidence, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, LimitOutputBytes,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    cfg.OverwriteCells.add_missing_cells = True
    cfg.Execute.timeout = int(limits.cell_timeout)
    cfg.Execute.kernel_name = KERNEL_NAME
    cfg.Execute.startup_timeout = 120
    cfg.SandboxedExecute.workdir = str(box / "work")
    cfg.SandboxedExecute.owner_uid = job.policy.uid
    cfg.SandboxedExecute.max_output_bytes = limits.max_output_bytes  # per cell, while it runs
    cfg.LimitOutputBytes.max_bytes = limits.max_output_bytes
    cfg.JudgeEvidence.challenge = challenge_seed(job)
    cfg.JudgeEvidence.cache_dir = str(job.judge_cache or "")
    cfg.JudgeEvidence.bundles = dict(job.definition.get("exercises") or {})
    cfg.KernelManager.transport = "ipc"
    cfg.KernelManager.ip = str(box / "run" / "k")
    cfg.KernelManager.connection_file = str(box / "run" / "kernel.json")
    return cfg


def challenge_seed(job: Job) -> int:
    """The run's challenge seed (picked by ``grade`` at grading time), or a fresh one for this submission."""
    seed = job.challenge
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        seed = job.challenge = secrets.randbelow(2**31)
    return seed


def judged_problems(path: Path) -> list[str]:
    """``grade_id: reason`` for each cell whose evidence the judge could not use (missing, malformed, huge)."""
    from autograder.run.judge.preprocessor import EVIDENCE_ERROR

    nb = nbformat.read(path, as_version=4)
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") == EVIDENCE_ERROR:
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?")
                lines.append(f"{gid}: {out.get('evalue', '')}"[:200])
    return lines


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def run_autograde(job: Job, limits: Limits) -> tuple[bool, str]:
    """nbgrader's Autograde converter on the scratch course; (succeeded, captured log)."""
    from nbgrader.converters import Autograde, NbGraderException
    from nbgrader.coursedir import CourseDirectory

    cfg = nbgrader_config(job, limits)
    log = logging.getLogger(f"autograder.run.worker.{job.student}")
    capture = _Capture()
    log.addHandler(capture)
    log.setLevel(logging.INFO)
    coursedir = CourseDirectory(config=cfg)
    converter = Autograde(coursedir=coursedir, config=cfg, log=log)
    converter.force = True
    try:
        converter.start()
        ok = True
    except NbGraderException:
        ok = False
    return ok, "\n".join(capture.lines)


def read_scores(job: Job, definition: AssignmentDef) -> tuple[dict[str, NotebookResult], str | None]:
    """What nbgrader saved in the scratch gradebook: per-cell auto scores, comments, penalty."""
    from nbgrader.api import Gradebook

    out: dict[str, NotebookResult] = {}
    url = f"sqlite:///{Path(job.scratch) / 'gradebook.db'}"
    with Gradebook(url, job.course_id) as gb:
        sub = gb.find_submission(job.assignment, job.student)
        timestamp = sub.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC") if sub.timestamp else None
        for snb in sub.notebooks:
            res = NotebookResult(late_penalty=snb.late_submission_penalty)
            for g in snb.grades:
                res.grades[g.cell.name] = CellGrade(g.auto_score, float(g.max_score))
            for c in snb.comments:
                res.comments[c.cell.name] = c.auto_comment
            out[snb.name] = res
    return out, timestamp


def _graded_dir(job: Job) -> Path:
    return Path(job.scratch) / "autograded" / job.student / job.assignment


def grade(job: Job) -> Result:
    """Grade the job's submission; never raises for anything the submission does."""
    t0 = time.monotonic()
    limits = Limits(**job.limits)
    definition = AssignmentDef.from_json(job.definition)
    a, s = job.assignment, job.student
    scratch = build_scratch(job)
    sub = scratch / "submitted" / s / a
    result = Result(assignment=a, student=s, status="graded", fingerprint=fingerprint(Path(job.submission_dir)),
                    autograded_dir=f"autograded/{s}/{a}")
    release = Path(job.release_dir)
    verdicts = {nb.name: triage.check_notebook(sub / f"{nb.name}.ipynb", nb, limits.max_notebook_mb * 2**20,
                                               triage.baseline(release / f"{nb.name}.ipynb"))
                for nb in definition.notebooks}
    fatal = {n: v for n, v in verdicts.items() if v.status}
    for name, v in fatal.items():
        (sub / f"{name}.ipynb").unlink(missing_ok=True)
    if len(fatal) == len(definition.notebooks):
        first = next(iter(fatal.values()))
        result.status, result.reason = first.status or "error", "; ".join(v.reason for v in fatal.values())
        result.notebooks = zero_scores(definition)
        placeholder_notebooks(_graded_dir(job), Path(job.release_dir), definition, result.status, result.reason)
        result.duration_s = time.monotonic() - t0
        return result
    _extension(job)
    # The kernel learns the challenge seed only now: the sizes and weights of the judged cases.
    from test_utils.evidence import CHALLENGE_ENV

    os.environ[CHALLENGE_ENV] = str(challenge_seed(job))
    ok, log = run_autograde(job, limits)
    graded = scratch / "autograded" / s / a
    if not ok:
        status, reason = "error", _last_error(log)
        for marker, st, why in KNOWN_FAILURES:
            if marker in log:
                status, reason = st, why
                break
        if status == "error" and disk_full(scratch / "box"):
            status, reason = "disk_full", "the notebook filled its disk space and could not be graded"
        from autograder.run.nbhooks import OUTPUT_CUT

        if OUTPUT_CUT and status in ("error", "kernel_died", "memory", "timeout"):
            status, reason = "huge_output", (f"a cell printed more than {limits.max_output_bytes // 2**20} MiB of output: it "
                                             f"was cut and interrupted, and the kernel stopped ({reason})")
        result.status, result.reason = status, reason
        result.notebooks = zero_scores(definition)
        shutil.rmtree(graded, ignore_errors=True)
        placeholder_notebooks(_graded_dir(job), Path(job.release_dir), definition, status, reason)
    else:
        result.notebooks, result.timestamp = read_scores(job, definition)
        reasons = [v.reason for v in fatal.values()]
        status = next((v.status for v in fatal.values()), None)
        for nb in definition.notebooks:
            path = graded / f"{nb.name}.ipynb"
            if path.exists():
                st, why = triage.scan_outputs(path)
                if st:
                    status = status or st
                    reasons.append(why)
                reasons.extend(judged_problems(path))
        restored = triage.restored_reason(verdicts)
        if restored:
            status = status or "restored"
            reasons.append(restored)
        if disk_full(scratch / "box"):
            status = status or "disk_full"
            reasons.append("the notebook filled its disk space; files it wrote afterwards were lost")
        result.status = status or "graded"
        result.reason = "; ".join(r for r in reasons if r)
        if result.status != "graded":
            for nb in definition.notebooks:
                path = graded / f"{nb.name}.ipynb"
                if path.exists():
                    banner(path, result.status, result.reason)
    result.duration_s = time.monotonic() - t0
    return result


def _extension(job: Job) -> None:
    """Carry the student's extension into the scratch gradebook (late penalties use it)."""
    if not job.extension_s:
        return
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(job.scratch) / 'gradebook.db'}", job.course_id) as gb:
        gb.update_or_create_student(job.student)
        gb.update_or_create_submission(job.assignment, job.student, extension=timedelta(seconds=job.extension_s))


def _last_error(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "Exception" in ln:
            return ln[:200]
    return "nbgrader could not grade the notebook"


def _container_box(job: Job, policy_file: Path) -> None:
    """In a grading container: the kernel's folders (on the container's tmpfs) and its launcher policy."""
    limits = Limits(**job.limits)
    uid = job.uid if job.uid is not None else limits.uid_base + job.slot
    box = Path(job.scratch) / "box"
    sandbox.make_box(box, uid)
    policy = sandbox.policy(limits=limits, slot=job.slot, box=box, cgroup_procs=[], threads=job.threads, uid=uid)
    # the container is the outer box (no namespaces can be made in it): the kernel gets its own uid, and the
    # launcher refuses to start it while it could read the course copy, the gradebook or the job
    policy.in_container = True
    # the whole job folder but the box: whatever the grader writes there later is covered without being named
    policy.grader_only = sorted({*policy.grader_only, job.scratch, job.root, job.template_db})
    job.policy = policy
    policy.write(policy_file)


def disk_full(box: Path, margin: int = 2**20) -> bool:
    """Whether the file system holding the kernel's ``box`` (its tmpfs, as root) has under ``margin`` bytes left.

    Asked of the box folder itself, never of a path below it that the kernel may have turned into a link."""
    free = boxfs.free_bytes(box)
    return free is not None and free < margin


def bound_box(scratch: Path, policy_file: Path) -> None:
    """As root, for a confined kernel outside a container: the box becomes a tmpfs of the kernel's tmp size
    (``tmp_size_mb``) in this worker's own mount namespace (:func:`boxfs.mount_private`), so a submission fills
    its box, not the machine's disk. Call before the kernel (or the pending warm kernel) is forked; once.

    Without root the box has no size bound of its own: each file the kernel writes is bounded by RLIMIT_FSIZE
    (``fsize_mb``) only. In a grading container the container's own disk bound applies.
    """
    global _box_bound
    if _box_bound or os.geteuid() != 0 or not policy_file.exists():
        return
    policy = json.loads(policy_file.read_text())  # uid, paths and sizes: nothing about the submission itself
    if policy.get("in_container") or not policy.get("confine", True):
        return
    boxfs.mount_private(scratch / "box", int(policy["uid"]), int(policy["tmp_size_mb"]))
    _box_bound = True


_box_bound = False


def main(argv: list[str]) -> int:
    """Read the job file, grade, write ``result.json`` next to it."""
    die_with_parent()
    os.umask(0o077)  # nothing the grader writes is the kernel's to read (the kernel's box is made for its uid)
    job_file = Path(argv[1])
    try:
        job = Job.read(job_file)
    except ContractError as error:  # written by grade; anything else is not a job to run
        print(f"Error: {error} — the grading process wrote a job this worker cannot run", file=sys.stderr)
        return 2
    out = job_file.with_name("result.json")
    if job.in_container:
        _container_box(job, job_file.with_name("policy.json"))
    else:
        bound_box(Path(job.scratch), job_file.with_name("policy.json"))
    os.environ["JUPYTER_PATH"] = str(Path(job.scratch) / "jupyter")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(Path(job.scratch) / "box" / "run")
    write_kernelspec(Path(job.scratch) / "jupyter", job_file.with_name("policy.json"))
    try:
        result = grade(job)
    except Exception as exc:  # the worker must always leave a result behind
        logging.exception("worker failed")
        result = Result(assignment=job.assignment, student=job.student, status="error",
                         reason=f"autograder error: {type(exc).__name__}: {str(exc)[:160]}",
                         fingerprint=fingerprint(Path(job.submission_dir)),
                         notebooks=zero_scores(AssignmentDef.from_json(job.definition)))
    results.write(out, result)
    return 0


def forked_main(job_file: str, warm: bool) -> int:
    """Entry of a worker forked from the fork server (:mod:`autograder.host.forkserver`).

    Forks the warm kernel first, while this process knows nothing about the submission, then
    takes the full environment from the root-only ``env.json`` and grades as :func:`main`.
    """
    os.setsid()  # its own process group: the scheduler kills the worker with everything it started
    path = Path(job_file)
    log = os.open(path.with_name("worker.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    devnull = os.open(os.devnull, os.O_RDONLY)
    for fd, target in ((devnull, 0), (log, 1), (log, 2)):  # off the server's pipes
        os.dup2(fd, target)
    os.close(log)
    os.close(devnull)
    bound_box(path.parent, path.with_name("policy.json"))  # before the pending kernel: it must see the box's tmpfs
    if warm:
        from autograder.run import warm as warm_kernels

        warm_kernels.fork_pending(path.with_name("policy.json"))
    env = json.loads(path.with_name("env.json").read_text())
    os.environ.clear()
    os.environ.update(env)
    try:
        return main([sys.argv[0], job_file])
    finally:
        if warm:
            warm_kernels.discard_pending()
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
