"""The grader's own settings, read like nbgrader's from the course's ``nbgrader_config.py`` (``c.Autograder.*``).

Limits, parallelism and debugging switches that used to be constants or ``AUTOGRADER_*`` variables
live here as traitlets, with their defaults and help. Two environment variables still override, as
documented: ``AUTOGRADER_KEEP_SCRATCH=1`` (keep each submission's scratch folder) and
``AUTOGRADER_DOCKER`` (the Docker client). A value of the wrong type is a one-line error naming the file.
"""
from __future__ import annotations

import os

from traitlets import Bool, Float, Int, List, TraitError, Unicode
from traitlets.config import Configurable

from autograder.course.directory import CONFIG_NAME, Course
from autograder.errors import UserError
from autograder.sandbox.limits import DEFAULT_ALLOW

__all__ = ["Autograder", "settings"]


class Autograder(Configurable):
    """``c.Autograder`` in ``nbgrader_config.py``."""

    jobs = Int(0, help="parallel grading workers; 0: one per core").tag(config=True)
    submission_timeout = Float(1800.0, help="seconds for one whole submission").tag(config=True)
    memory_mb = Int(4096, help="memory limit of one submission's kernel (cgroup), MiB").tag(config=True)
    address_space_mb = Int(8192, help="address-space limit of the kernel, MiB").tag(config=True)
    nproc = Int(512, help="processes and threads the kernel's uid may run").tag(config=True)
    tmp_size_mb = Int(512, help="size of the kernel's private /tmp, MiB").tag(config=True)
    uid_base = Int(61000, help="first of the sandbox uids (one per parallel kernel, claimed with lock files)"
                   ).tag(config=True)
    allow = List(Unicode(), default_value=list(DEFAULT_ALLOW),
                 help="course-root entries a kernel may read (read-only); nothing else of the machine exists for it "
                      "but the Python installation, the kit's student packages, the dataset and its own folder"
                 ).tag(config=True)
    warm = Bool(True, help="fork workers and kernels from a server that has imported the notebook's packages"
                ).tag(config=True)
    keep_scratch = Bool(False, help="keep each submission's scratch folder (debugging); "
                                    "AUTOGRADER_KEEP_SCRATCH=1 overrides").tag(config=True)
    docker = Unicode("", help="the Docker client for --container ('' : docker on PATH); "
                              "AUTOGRADER_DOCKER overrides").tag(config=True)


def settings(course: Course | None = None) -> Autograder:
    """The settings of ``course`` (defaults without one), with the documented environment overrides."""
    try:
        found = Autograder(config=course.config) if course is not None else Autograder()
    except TraitError as error:
        where = course.root / CONFIG_NAME if course is not None else CONFIG_NAME
        first = str(error).strip().splitlines()[0][:200]
        raise UserError(f"{where}: a c.Autograder setting has the wrong type ({first})",
                        "fix that line of the config (the settings and their types are in the README, section Settings)") from None
    if os.environ.get("AUTOGRADER_KEEP_SCRATCH", "").strip() not in ("", "0"):
        found.keep_scratch = True
    if os.environ.get("AUTOGRADER_DOCKER"):
        found.docker = os.environ["AUTOGRADER_DOCKER"]
    return found
