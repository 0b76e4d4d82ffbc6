"""The grader's own settings, read like nbgrader's from the course's ``nbgrader_config.py`` (``c.Autograder.*``).

This class is the one place a setting's default is written: :class:`autograder.sandbox.limits.Limits` is built
from it (:meth:`Autograder.limits`), the command line's help quotes it (:func:`default`), and the commented
lines of ``nbgrader_config.py`` and the README's table are checked against it. Two environment variables still
override, as documented: ``AUTOGRADER_KEEP_SCRATCH=1`` (keep each submission's scratch folder) and
``AUTOGRADER_DOCKER`` (the Docker client). A value of the wrong type is a one-line error naming the file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Int, List, TraitError, Unicode
from traitlets.config import Config, Configurable

from autograder.errors import UserError
from autograder.sandbox.limits import Limits

__all__ = ["Autograder", "default", "load"]


class Autograder(Configurable):
    """``c.Autograder`` in ``nbgrader_config.py``."""

    jobs = Int(0, help="parallel grading workers; 0: one per core").tag(config=True)
    cell_timeout = Float(300.0, help="seconds for one cell where nbgrader_config.py sets no "
                                     "ExecutePreprocessor.timeout").tag(config=True)
    submission_timeout = Float(1800.0, help="seconds for one whole submission").tag(config=True)
    # Measured: TensorFlow 2.21 importing and training the reference U-Net peaked at 3.3 GB of virtual memory and
    # 1.0 GB resident on 2 cores (more cores add thread stacks), hence a 4 GiB cgroup and an 8 GiB address space.
    memory_mb = Int(4096, help="memory limit of one submission's kernel (cgroup), MiB").tag(config=True)
    address_space_mb = Int(8192, help="address-space limit of the kernel, MiB").tag(config=True)
    nproc = Int(512, help="processes and threads the kernel's uid may run").tag(config=True)
    tmp_size_mb = Int(512, help="size of the kernel's private /tmp, MiB").tag(config=True)
    uid_base = Int(61000, help="first of the sandbox uids (one per parallel kernel, claimed with lock files)"
                   ).tag(config=True)
    allow = List(Unicode(), default_value=[".venv", "data", "test_utils", "data_fetch"],
                 help="course-root entries a kernel may read (read-only); nothing else of the machine exists for it "
                      "but the Python installation, the kit's student packages, the dataset and its own folder"
                 ).tag(config=True)
    warm = Bool(True, help="fork workers and kernels from a server that has imported the notebook's packages"
                ).tag(config=True)
    keep_scratch = Bool(False, help="keep each submission's scratch folder (debugging); "
                                    "AUTOGRADER_KEEP_SCRATCH=1 overrides").tag(config=True)
    docker = Unicode("", help="the Docker client for --container ('' : docker on PATH); "
                              "AUTOGRADER_DOCKER overrides").tag(config=True)

    def limits(self, cell_timeout: float | None = None) -> Limits:
        """The per-submission limits of these settings; ``cell_timeout``: nbgrader's own, where the course sets one."""
        return Limits(cell_timeout=float(cell_timeout or self.cell_timeout), submission_timeout=self.submission_timeout,
                      memory_mb=self.memory_mb, address_space_mb=self.address_space_mb, nproc=self.nproc,
                      tmp_size_mb=self.tmp_size_mb, uid_base=self.uid_base, allow=list(self.allow))


def default(name: str) -> Any:
    """The default of ``c.Autograder.<name>``, as the class declares it (for help texts)."""
    return Autograder.class_traits()[name].default()


def load(config: Config | None = None, where: Path | None = None) -> Autograder:
    """The settings in ``config`` (defaults without one), with the documented environment overrides.

    ``where``: the config file, named in the error when a setting has the wrong type.
    """
    try:
        found = Autograder(config=config) if config is not None else Autograder()
    except TraitError as error:
        first = str(error).strip().splitlines()[0][:200]
        raise UserError(f"{where or 'nbgrader_config.py'}: a c.Autograder setting has the wrong type ({first})",
                        "fix that line of the config (the settings and their types are in the README, section Settings)") from None
    if os.environ.get("AUTOGRADER_KEEP_SCRATCH", "").strip() not in ("", "0"):
        found.keep_scratch = True
    if os.environ.get("AUTOGRADER_DOCKER"):
        found.docker = os.environ["AUTOGRADER_DOCKER"]
    return found
