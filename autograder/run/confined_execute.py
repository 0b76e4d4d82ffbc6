"""``ConfinedExecute``: plain ``nbgrader autograde`` (and the Formgrader's Autograde button) runs student code confined.

The course's ``nbgrader_config.py`` lists this preprocessor in place of nbgrader's ``Execute``. Each notebook's
kernel then starts through the same sandbox as ``python -m autograder grade`` (:mod:`autograder.sandbox`): the
launcher as the kernelspec's command, a launcher policy built from the course's ``c.Autograder`` limits, a private
box in a 0700 temporary folder (the kernel's working folder, holding copies of the assignment's files), and as root
a claimed uid of its own and a cgroup. Before the kernel starts, :func:`autograder.sandbox.probe.probe` checks that
confinement works on this machine; when it does not, nbgrader runs no notebook at all: it logs one line saying why
and what to do, and the run stops (exit code 1). After the notebook ran, whatever the uid left is killed, the
cgroup destroyed and the box removed. The per-cell limit is nbgrader's ``ExecutePreprocessor.timeout``.

The only way out is explicit: ``--ConfinedExecute.sandbox=False`` (or ``c.ConfinedExecute.sandbox = False``), the
plain-nbgrader ``--no-sandbox``: the kernel then runs as you, unconfined (still from its own folder, with rlimits
and an environment without secrets), and each notebook logs a warning line saying so.
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from traitlets import Bool

from autograder.course import settings
from autograder.course.directory import CONFIG_NAME
from autograder.errors import UserError
from autograder.run.nbhooks import SandboxedExecute
from autograder.sandbox import limits as sandbox, probe as sandbox_probe
from autograder.sandbox.limits import KERNEL_NAME, Limits

__all__ = ["ConfinedExecute", "ConfinementUnavailable", "OPT_OUT", "unavailable_line", "UNCONFINED"]

#: The option that runs plain ``nbgrader autograde`` unconfined (the plain-nbgrader ``--no-sandbox``).
OPT_OUT = "--ConfinedExecute.sandbox=False"
#: Logged (a warning) for each notebook that ran with the opt-out.
UNCONFINED = f"graded with {OPT_OUT}: the student's code ran unconfined, as you, able to read and change your files"
_boxes = itertools.count(1)


class ConfinementUnavailable(SystemExit):
    """Student code cannot be confined here: the whole ``nbgrader autograde`` run stops before any of it runs.

    A ``SystemExit`` (exit code 1), because nbgrader catches every ``Exception`` of one submission, logs its
    traceback and goes on to the next submission: this stops the run, and the one logged line is the message.
    """

    def __init__(self, line: str) -> None:
        super().__init__(1)
        self.line = line

    def __str__(self) -> str:  # what the Formgrader shows under the log (the exit code stays 1)
        return self.line


def unavailable_line(why: str, assignment: str = "ASSIGNMENT") -> str:
    """The one line plain ``nbgrader autograde`` logs where a kernel cannot be confined: why, then what to do."""
    todo = sandbox_probe.fix().replace("(--container ", f"(python -m autograder grade {assignment} --container ")
    todo = todo.replace("--no-sandbox grades unconfined and says so in grades.csv",
                        f"{OPT_OUT} runs it unconfined and says so")
    return (f"Error: student code cannot be confined on this machine: {why}; "
            f"nbgrader autograde stopped before running any of it — {todo}")


class KernelBox:
    """One notebook's kernel set-up: folder, policy, kernelspec, and as root a uid and a cgroup; undone on exit.

    ``confine=False`` (the opt-out): the launcher applies only rlimits and a clean environment (as ``--no-sandbox``).
    """

    def __init__(self, limits: Limits, course_root: Path, confine: bool = True) -> None:
        self.limits, self.course_root, self.confine = limits, course_root, confine
        self.folder: Path | None = None
        self.box = self.jupyter = Path("/nonexistent")
        self.claims = sandbox.UidClaims(limits.uid_base) if sandbox.is_root() and confine else None
        self.uid = os.getuid()
        self.cgroup = sandbox.Cgroup(f"{os.getpid()}-nbgrader-{next(_boxes)}")

    def __enter__(self) -> "KernelBox":
        self.folder = Path(tempfile.mkdtemp(prefix="ag-nbgrader-"))  # 0700, this process's alone
        self.box, self.jupyter = self.folder / "box", self.folder / "jupyter"
        try:
            (self.folder / "owner.pid").write_text(str(os.getpid()))  # grade's sweep removes it if this process dies
            if self.claims is not None:
                self.uid = self.claims.uid(0)
            old = os.umask(0o077)
            try:
                sandbox.make_box(self.box, self.uid)
            finally:
                os.umask(old)
            procs = self.cgroup.create(self.limits.memory_mb, self.limits.nproc) if self.confine else []
            rules = sandbox.policy(limits=self.limits, slot=0, box=self.box, cgroup_procs=procs,
                                   course_root=self.course_root, threads=sandbox.threads_per_job(1), uid=self.uid,
                                   confine=self.confine)
            rules.write(self.folder / "policy.json")
            sandbox.write_kernelspec(self.jupyter, self.folder / "policy.json")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def workdir(self) -> Path:
        """The kernel's working folder (the assignment's files are copied here)."""
        return self.box / "work"

    def kernel_manager(self, cls: type[AsyncKernelManager], config: Any) -> AsyncKernelManager:
        """A ``cls`` that starts the launcher's kernelspec, talking over IPC sockets in the box (a confined kernel has
        a network namespace of its own, so no TCP port of this machine reaches it)."""
        specs = KernelSpecManager(kernel_dirs=[str(self.jupyter / "kernels")])
        return cls(kernel_name=KERNEL_NAME, config=config, kernel_spec_manager=specs, transport="ipc",
                   ip=str(self.box / "run" / "k"), connection_file=str(self.box / "run" / "kernel.json"))

    def close(self) -> None:
        """Kill what the kernel's uid left, destroy its cgroup, give the uid back, remove the folder."""
        if self.claims is not None:
            sandbox.kill_uid(self.uid)
        self.cgroup.destroy()
        if self.claims is not None:
            self.claims.release()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class ConfinedExecute(SandboxedExecute):
    """nbgrader's ``Execute`` with each notebook's kernel in the kit's sandbox (see the module's docstring)."""

    sandbox = Bool(True, help="run each notebook's kernel in the kit's sandbox; False (--ConfinedExecute.sandbox=False) "
                              "is the plain-nbgrader --no-sandbox: student code runs unconfined, as you, and each "
                              "notebook logs a warning saying so").tag(config=True)

    _box: KernelBox | None = None

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict, km: Any = None) -> tuple[NotebookNode, ResourcesDict]:
        """Check that the kernel can be confined (else stop the run), then execute the notebook in its box."""
        info = resources.get("nbgrader", {})
        root = self._course_root()
        try:
            limits = settings.load(self.config, root / CONFIG_NAME).limits(self.timeout)
        except UserError as error:
            self._stop(f"Error: {error}", resources)
        if self.sandbox:
            why = sandbox_probe.probe(course_root=root, limits=limits)
            if why is not None:
                self._stop(unavailable_line(why, str(info.get("assignment") or "ASSIGNMENT")), resources)
        graded = resources.get("metadata", {}).get("path")
        with KernelBox(limits, root, confine=self.sandbox) as box:
            self._box, self.workdir, self.owner_uid = box, str(box.workdir), box.uid
            try:
                nb, resources = super().preprocess(nb, resources, km=km)
            finally:
                self._box = None
                if not self.sandbox:
                    self.log.warning("%s/%s: %s", info.get("student", "?"), info.get("notebook", "?"), UNCONFINED)
        if graded:  # the box is gone: later steps see the graded folder again
            resources = dict(resources)
            resources["metadata"] = {**resources.get("metadata", {}), "path": graded}
        return nb, resources

    def create_kernel_manager(self) -> AsyncKernelManager:
        """The box's kernel manager (nbclient calls this when it starts the kernel)."""
        if self._box is None:
            return super().create_kernel_manager()
        self.km = self._box.kernel_manager(self.kernel_manager_class, self.config)  # the sandbox's own (cold here)
        return self.km

    def _course_root(self) -> Path:
        """The course root of the nbgrader run (the converter's), else the config's, else the working folder."""
        parent = self.parent
        while parent is not None:
            coursedir = getattr(parent, "coursedir", None)
            if coursedir is not None and getattr(coursedir, "root", None):
                return Path(coursedir.root).resolve()
            parent = getattr(parent, "parent", None)
        return Path(str(self.config.get("CourseDirectory", {}).get("root") or os.getcwd())).resolve()

    def _stop(self, line: str, resources: ResourcesDict) -> NoReturn:
        """Log ``line`` and stop the whole run; the submission's half-made graded folder goes, as nbgrader's would."""
        self.log.error(line)
        info = resources.get("nbgrader", {})
        graded = resources.get("metadata", {}).get("path")
        if graded and info.get("student") and info.get("assignment"):
            folder = Path(graded)
            if folder.name == info["assignment"] and folder.parent.name == info["student"]:
                shutil.rmtree(folder, ignore_errors=True)
        raise ConfinementUnavailable(line)
