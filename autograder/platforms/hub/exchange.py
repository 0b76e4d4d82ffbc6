"""The course's nbgrader exchange, with modes that keep students apart.

nbgrader creates its exchange world-writable (``0777``) without the sticky bit, so any student can rename the course's
folder and put another in its place; its ``inbound`` has no sticky bit either, so a student who learns another's
submission folder name can rename or delete it; and students' homes, where fetched copies live, are readable by
everyone under Debian's default ``umask 022``. Here:

=================================  ======  =============================================================================
folder                             mode    why
=================================  ======  =============================================================================
``EXCHANGE``                       1777    nbgrader needs it writable by all; sticky: each entry only for its owner
``EXCHANGE/COURSE``, ``outbound``  0755    the course account's: students read releases, change nothing
``inbound``                        3733    students add a submission but cannot list the folder; sticky: nobody renames
                                           or deletes another's submission; setgid: the course account's group
``feedback``                       0711    files named by a hash of the student's own submission: enter, never list
=================================  ======  =============================================================================

The same steps are a shell script (``exchange-setup.sh``), which ``hub`` runs and ``--config-only`` writes for an
existing hub; :func:`problems` is the check before the hub starts.
"""
from __future__ import annotations

import pwd
import shlex
import stat
from pathlib import Path

from autograder.platforms.hub.settings import HubPlan

__all__ = ["MODES", "problems", "script"]

#: folder (relative to the exchange; "" is the exchange itself) -> (owner: "root" or "grader", mode)
MODES: dict[str, tuple[str, int]] = {
    "": ("root", 0o1777),
    "{course}": ("grader", 0o755),
    "{course}/outbound": ("grader", 0o755),
    "{course}/inbound": ("grader", 0o3733),
    "{course}/feedback": ("grader", 0o711),
}


def _folders(plan: HubPlan) -> list[tuple[Path, str, int]]:
    out = []
    for rel, (owner, mode) in MODES.items():
        path = plan.exchange / rel.format(course=plan.course_id) if rel else plan.exchange
        out.append((path, "root" if owner == "root" else plan.grader, mode))
    return out


def script(plan: HubPlan) -> str:
    """The exchange set-up as a POSIX shell script, to run as root (again and again: it only sets modes)."""
    lines = ["#!/bin/sh",
             f"# The nbgrader exchange of {plan.course_id}, with modes that keep students apart "
             "(autograder/platforms/hub/exchange.py explains each). Run as root.",
             "set -eu"]
    for path, owner, mode in _folders(plan):
        q = shlex.quote(str(path))
        lines += [f"mkdir -p {q}", f"chown {owner}:{owner} {q}", f"chmod {mode:04o} {q}"]
    return "\n".join(lines) + "\n"


def problems(plan: HubPlan) -> list[str]:
    """What is wrong with an existing exchange, one line each with the fix; empty when it is absent or right.

    An existing folder owned by someone else (a student could have made it first) is never taken over; a wrong mode
    is reported too, since the set-up would change what other courses on the machine rely on.
    """
    out: list[str] = []
    for path, owner, mode in _folders(plan):
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            out.append(f"exchange {path} is not a folder: remove it")
            continue
        try:
            have = pwd.getpwuid(st.st_uid).pw_name
        except KeyError:
            have = str(st.st_uid)
        if have != owner:
            out.append(f"exchange {path} belongs to {have}, not {owner}: someone else made it; check its contents, "
                       f"then remove it (the hub creates it)")
        elif stat.S_IMODE(st.st_mode) != mode:
            out.append(f"exchange {path} has mode {stat.S_IMODE(st.st_mode):04o}, not {mode:04o} "
                       f"(autograder/platforms/hub/exchange.py says why): chmod {mode:04o} {path}")
    return out
