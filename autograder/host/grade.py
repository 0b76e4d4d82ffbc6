"""``grade``: every submission of an assignment, in parallel sandboxed workers, into the gradebook."""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import warnings
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from contextlib import contextmanager
from nbgrader.api import Gradebook, MissingEntry
from tqdm import tqdm

from autograder.course import definition as definitions
from autograder.course import exercise_book
from autograder.host import container as containers
from autograder.host import forkserver, grades_table, scheduler, store
from autograder.contracts import results
from autograder.contracts.fields import ContractError
from autograder.sandbox import limits as sandbox, probe as sandbox_probe
from autograder.course.directory import Course, fingerprint
from autograder.errors import UserError
from autograder.contracts.job import Job, Policy
from autograder.contracts.results import Result
from autograder.course.placeholders import placeholder_notebooks, zero_scores

# nbgrader's add_submission builds rows before adding them; SQLAlchemy warns, harmlessly.
warnings.filterwarnings("ignore", message=".*not in session.*")
#: Said in grades.csv (reason) and the summary of a run with ``--no-sandbox``.
UNCONFINED = "graded with --no-sandbox: the student's code ran unconfined"


class SandboxUnavailable(UserError):
    """Student code cannot be confined on this machine (``why``); raised before any of it runs."""

    def __init__(self, why: str, todo: str) -> None:
        super().__init__(f"student code cannot be confined on this machine: {why}; nothing was graded", todo)
        self.why = why

@dataclass
class _Job:
    student: str
    scratch: Path
    job: Job
    cgroup: sandbox.Cgroup
    uid: int
    container: str | None = None


@dataclass
class _Run:
    course: Course
    assignment: str
    definition: definitions.AssignmentDef
    limits: sandbox.Limits
    work: Path
    template: Path
    gb: Gradebook
    extensions: dict[str, float]
    parallel: int = 1
    container: containers.Options | None = None
    server: forkserver.Server | None = None
    jobs: dict[str, _Job] = field(default_factory=dict)
    # picked at grading time: the sizes and weights of the cases the judge checks (autograder.run.judge)
    challenge: int = field(default_factory=lambda: secrets.randbelow(2**31))
    uids: sandbox.UidClaims | None = None  # root only: each kernel's own uid
    confine: bool = True
    keep_scratch: bool = False
    counter: int = 0
    failed: int = 0
    done: int = 0


def run(*, course: Course, assignment: str, jobs: int | None = None, students: list[str] | None = None,
        timeout: float | None = None, force: bool = False,
        submission_timeout: float | None = None, limits: sandbox.Limits | None = None,
        progress: bool = True, quiet: bool = False,
        container: containers.Options | None = None, warm: bool = True,
        server: forkserver.Server | None = None, confine: bool = True, plot: bool = True) -> list[dict[str, Any]]:
    """Grade ``submitted/*/<assignment>/`` and return the grades.csv rows (one per student).

    ``course``: the course, opened once by the caller. ``timeout`` is the per-cell limit (default: the
    config's ``ExecutePreprocessor.timeout``), ``submission_timeout`` the limit for a whole submission. Already graded submissions (same
    files, result in the ledger) are skipped unless ``force``. Writes ``grades.csv`` and
    ``grades.png`` in the course root. With ``container`` each submission runs in its own
    container of that grading image (:mod:`autograder.host.container`) instead of a local sandbox.
    ``warm`` (local sandbox only): fork workers and kernels from a server that has imported the
    assignment's packages (:mod:`autograder.host.forkserver`); False starts each one afresh. ``server``:
    one already started with :func:`autograder.host.forkserver.for_assignment` (the caller closes it);
    by default the run starts and stops its own. Student code runs confined (:mod:`autograder.sandbox`);
    where that cannot be set up, grading stops with a :class:`UserError` before any of it runs.
    ``confine=False`` (``--no-sandbox``) grades unconfined, and every row's reason says so. ``plot=False``
    leaves grades.png out (a scratch course, which nobody looks at: matplotlib costs about a second).
    """
    everyone = course.students(assignment)
    selected = list(dict.fromkeys(students)) if students else everyone
    for s in selected:
        if not course.submission_dir(s, assignment).is_dir():
            raise UserError(f"no submission {course.submission_dir(s, assignment)}", "check the student id and the assignment name")
    if not everyone:
        raise UserError(f"no submissions in {course.root / 'submitted'}/*/{assignment}/",
                        "collect the submissions first (nbgrader collect or copy them into submitted/<student>/<assignment>/)")
    limits = limits or course.limits()
    jobs = jobs or course.settings.jobs or None
    warm = warm and course.settings.warm
    if timeout:
        limits.cell_timeout = float(timeout)
    if submission_timeout:
        limits.submission_timeout = float(submission_timeout)
    definition = definitions.read(course.db_url, course.course_id, assignment)
    definition.exercises = exercise_book.load_bundles(course.root, assignment)  # the release's references
    if container is not None:
        container = containers.preflight(container)
    elif confine:
        _require_sandbox(course.root, limits)
    with _lock(course, assignment):
        todo = [s for s in selected
                if force or not store.is_done(course, assignment, s, fingerprint(course.submission_dir(s, assignment)))]
        if todo:
            old_umask = os.umask(0o077)  # the run's scratch (template, judge cache, job folders) is root's alone
            try:
                _grade(course, assignment, definition, limits, todo, jobs, progress, container, warm, server, confine)
            finally:
                os.umask(old_umask)
    table = grades_table.rows(db_url=course.db_url, course_id=course.course_id, definition=definition,
                        students=everyone, ledger=store.load_ledger(course, assignment))
    grades_table.write_csv(course.root / "grades.csv", table, definition)
    if plot:
        grades_table.plot(course.root / "grades.png", table, assignment)
    if not quiet:
        print(f"{len(todo)} graded now, {len(selected) - len(todo)} already graded; grades.csv"
              f"{' and grades.png' if plot else ''} in {course.root}")
        print(grades_table.summary(table))
        if todo:
            print(sandbox.bounds_note(_parallel(jobs, len(todo)), confine, container is not None))
        if not confine and container is None:
            print(f"Warning: {UNCONFINED} (--no-sandbox)")
    return table


def _require_sandbox(root: Path, limits: sandbox.Limits) -> None:
    """Stop, before any student code runs, when a kernel cannot be confined on this machine."""
    why = sandbox_probe.probe(course_root=root, limits=limits)
    if why is not None:
        raise SandboxUnavailable(why, sandbox_probe.fix())


@contextmanager
def _lock(course: Course, assignment: str) -> Iterator[None]:
    state = course.state_dir(assignment)
    state.mkdir(parents=True, exist_ok=True)
    with open(state / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another autograder run holds {state / '.lock'}", "wait for it to finish, then run again") from None
        yield


def _parallel(jobs: int | None, todo: int) -> int:
    """How many submissions a run grades at once: ``jobs`` (default: one per core), never more than there are."""
    return max(1, min(jobs or os.cpu_count() or 1, todo))


def _grade(course: Course, assignment: str, definition: definitions.AssignmentDef, limits: sandbox.Limits,
           todo: list[str], jobs: int | None, progress: bool,
           container: containers.Options | None = None, warm: bool = True,
           server: forkserver.Server | None = None, confine: bool = True) -> None:
    parallel = _parallel(jobs, len(todo))
    if not warm or container is not None:
        server = None  # containers always start afresh
    own_server = warm and container is None and server is None
    if own_server:  # started first, so that its imports overlap the set-up below
        server = forkserver.for_assignment(course.root, assignment, parallel)
    try:
        sandbox.sweep_stale_cgroups()
        _sweep_stale_scratch()
        work = Path(tempfile.mkdtemp(prefix="ag-"))
        os.chmod(work, 0o711)
        (work / "owner.pid").write_text(str(os.getpid()))
        template = work / "template.db"
        definitions.seed(f"sqlite:///{template}", course.course_id, definition)
        gb = Gradebook(course.db_url, course.course_id)
        uids = sandbox.UidClaims(limits.uid_base) if sandbox.is_root() else None
        state = _Run(course, assignment, definition, limits, work, template, gb, _extensions(gb, assignment, todo),
                     parallel=parallel, container=container, server=server, uids=uids, confine=confine,
                     keep_scratch=course.settings.keep_scratch)
        bar = tqdm(total=len(todo), unit="sub", desc=f"grading {assignment}", disable=not progress, file=sys.stderr)
        try:
            scheduler.run(todo, parallel=parallel, timeout=limits.submission_timeout + 30,
                          launch=lambda s, slot: _launch(state, s, slot),
                          finish=lambda s, slot, code, secs: _finish(state, s, code, secs, bar))
        finally:
            bar.close()
            for job in state.jobs.values():
                _cleanup(job, state)
            if state.uids is not None:
                state.uids.release()
            gb.close()
            if not state.keep_scratch:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        if own_server:
            server.close()


def _sweep_stale_scratch() -> None:
    """Remove scratch folders of autograder runs that were killed (their owner pid is gone)."""
    import psutil

    for folder in Path(tempfile.gettempdir()).glob("ag-*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(owner):
            shutil.rmtree(folder, ignore_errors=True)


def _extensions(gb: Gradebook, assignment: str, students: list[str]) -> dict[str, float]:
    out = {}
    for s in students:
        try:
            ext = gb.find_submission(assignment, s).extension
        except MissingEntry:
            continue
        if ext:
            out[s] = ext.total_seconds()
    return out


def _launch(state: _Run, student: str, slot: int) -> scheduler.Process:
    state.counter += 1
    scratch = state.work / str(state.counter)
    scratch.mkdir()
    os.chmod(scratch, 0o711)  # passable on the way to the box, never listable (the run's umask is 077)
    if state.container is not None:
        return _launch_container(state, student, slot, scratch)
    uid = state.uids.uid(slot) if state.uids is not None else os.getuid()
    box = scratch / "box"
    sandbox.make_box(box, uid)
    cgroup = sandbox.Cgroup(f"{os.getpid()}-{state.counter}")
    threads = sandbox.threads_per_job(state.parallel)
    procs = cgroup.create(state.limits.memory_mb, state.limits.nproc, cpus=threads)
    policy = sandbox.policy(limits=state.limits, slot=slot, box=box, cgroup_procs=procs, course_root=state.course.root,
                            threads=threads, uid=uid, confine=state.confine)
    # in a grading image (Gradescope, Coursera: no namespaces) the kernel shares this file system: the run's whole
    # scratch folder (template gradebook, judge cache, every job folder) but its own box must be closed to it
    policy.grader_only = sorted({*policy.grader_only, str(state.work)})
    env = forkserver.worker_env()
    job = _job(state, student, scratch, policy)
    policy.write(scratch / "policy.json")
    job.write(scratch / "job.json")
    (scratch / "env.json").write_text(json.dumps(env))
    os.chmod(scratch / "env.json", 0o600)
    state.jobs[student] = _Job(student, scratch, job, cgroup, uid)
    if state.server is not None:
        try:
            return state.server.fork(scratch / "job.json")
        except forkserver.ForkServerError as exc:
            print(f"warning: {exc}; starting each worker afresh from now on", file=sys.stderr)
            state.server = None
    log = open(scratch / "worker.log", "wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "autograder.run.worker", str(scratch / "job.json")],
                                cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    finally:
        log.close()


def _launch_container(state: _Run, student: str, slot: int, scratch: Path) -> scheduler.Process:
    assert state.container is not None
    course = state.course
    name = f"unet-grader-{os.getpid()}-{state.counter}"
    containers.prepare(scratch, course, state.assignment, state.template)
    cpus = sandbox.threads_per_job(state.parallel)
    job = _job(state, student, scratch)
    state.jobs[student] = _Job(student, scratch, job, sandbox.Cgroup(name), -1, container=name)
    uid = state.uids.uid(slot) if state.uids is not None else None
    return containers.launch(state.container, name=name, scratch=scratch, job=job, uid=uid,
                             submission=course.submission_dir(student, state.assignment),
                             data=containers.data_dir(), limits=state.limits, slot=slot, cpus=cpus)


def _job(state: _Run, student: str, scratch: Path, policy: Policy | None = None) -> Job:
    course = state.course
    return Job(
        root=str(course.root), scratch=str(scratch), assignment=state.assignment, student=student,
        course_id=course.course_id, template_db=str(state.template),
        definition=state.definition.to_json(), limits=state.limits.to_json(), policy=policy,
        submission_dir=str(course.submission_dir(student, state.assignment)),
        extension_s=state.extensions.get(student), release_dir=str(course.root / "release" / state.assignment),
        challenge=state.challenge,
        judge_cache=str(state.work / "judge-cache") if state.container is None else None,
    )


def _cleanup(job: _Job, state: _Run) -> None:
    if job.container is not None and state.container is not None:
        containers.remove(state.container, job.container)
        return
    sandbox.kill_uid(job.uid)  # a no-op without root (no uid of its own) or for a container (-1)
    job.cgroup.destroy()


def _finish(state: _Run, student: str, code: int | None, secs: float, bar: tqdm) -> None:
    job = state.jobs.pop(student)
    if job.container is not None and state.container is not None:
        oom = containers.oom_killed(state.container, job.container)
    else:
        oom = job.cgroup.oom_killed()
    _cleanup(job, state)
    result = _read_result(state, job, code)
    if oom and result.status in ("kernel_died", "error"):
        result.status, result.reason = "memory", f"ran out of memory (the {state.limits.memory_mb} MiB limit) and the kernel was killed"
    if not state.confine and state.container is None:
        result.reason = "; ".join(filter(None, [result.reason, UNCONFINED]))
    graded = job.scratch / result.autograded_dir if result.autograded_dir else None
    try:
        store.commit(state.course, state.gb, state.definition, result, graded)
    except ContractError as exc:  # a result that does not fit the assignment: zero, with the reason
        result = Result(assignment=state.assignment, student=student, status="error", reason=f"rejected result: {exc}",
                        fingerprint=result.fingerprint, notebooks=zero_scores(state.definition))
        store.commit(state.course, state.gb, state.definition, result, None)
    if not state.keep_scratch:
        shutil.rmtree(job.scratch, ignore_errors=True)
    state.done += 1
    state.failed += result.status != "graded"
    bar.set_postfix(done=state.done, failed=state.failed, refresh=False)
    bar.update(1)


def _read_result(state: _Run, job: _Job, code: int | None) -> Result:
    path = job.scratch / "result.json"
    fp = fingerprint(state.course.submission_dir(job.student, state.assignment))
    if code is None:
        status, reason = "timeout", f"ran past the {state.limits.submission_timeout:g} s limit for a whole submission"
    elif path.exists():
        try:
            result = results.read(path)
        except ContractError as exc:
            status, reason = "error", f"unreadable worker result: {exc.reason}"
        else:
            if (result.student, result.assignment) == (job.student, state.assignment):
                return result
            status, reason = "error", (f"the worker's result is for {result.student}/{result.assignment}, "
                                       f"not {job.student}/{state.assignment}")
    elif job.container is not None and code in containers.DOCKER_FAILURES:
        status, reason = "error", f"{containers.DOCKER_FAILURES[code]}: {_tail(job.scratch / 'worker.log')}"
    else:
        tail = _tail(job.scratch / "worker.log")
        status, reason = "error", f"the grading worker exited with code {code}: {tail}"
    shutil.rmtree(job.scratch / "autograded", ignore_errors=True)
    placeholder_notebooks(Path(job.job.scratch) / "autograded" / job.student / state.assignment,
                          Path(job.job.release_dir), state.definition, status, reason)
    return Result(assignment=state.assignment, student=job.student, status=status, reason=reason,
                  fingerprint=fp, autograded_dir=f"autograded/{job.student}/{state.assignment}", notebooks=zero_scores(state.definition))


def _tail(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][:200] if lines else "no log"
