"""Unix accounts of the course hub: one per person, a private home each, and the course account.

The hub logs people in with PAM and starts each server as its owner, so every person is a Unix account. Accounts that
exist are used as they are (their password too); accounts made here get a private home (``0700``: another student
cannot read what this one fetched, whatever the umask) and a first password, written to ``STATE/secret/passwords.csv``
(mode 0600, root only) for the instructor to hand out. The course account ``grader-<course>`` owns the course
directory's outputs and runs the Formgrader; no one logs in as it. It is a member of each student's own group, which is
how it reads their submissions (nothing else of theirs: homes are ``0700``).
"""
from __future__ import annotations

import csv
import os
import pwd
import secrets
import stat
import subprocess
from pathlib import Path

from autograder.errors import UserError
from autograder.platforms.hub.settings import HubPlan

__all__ = ["COURSE_OUTPUTS", "create", "problems", "reachable_problem"]

#: What nbgrader and the grader write in the course directory: the course account owns them.
COURSE_OUTPUTS = ("submitted", "autograded", "feedback", "reports", "release", "references", "source")
#: Files nbgrader writes beside them.
COURSE_FILES = ("gradebook.db", ".nbgrader.log")


def _exists(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def problems(plan: HubPlan) -> list[str]:
    """Existing accounts that would break the course's privacy: a home others can read. One line each, with the fix."""
    out = []
    for person in plan.people:
        entry = _exists(person.name)
        if entry is None:
            continue
        home = Path(entry.pw_dir)
        if home.is_dir() and stat.S_IMODE(home.stat().st_mode) & 0o077:
            out.append(f"the home {home} of {person.name} can be read by others (mode "
                       f"{stat.S_IMODE(home.stat().st_mode):04o}), so other students could read their work: "
                       f"chmod 700 {home}")
    return out


def reachable_problem(path: Path) -> str | None:
    """A line saying which folder stops other accounts from reaching ``path``, or None when all can enter it."""
    path = Path(path).resolve()
    for folder in [*reversed(path.parents), path]:
        if not stat.S_IMODE(folder.stat().st_mode) & 0o001:
            return (f"{folder} cannot be entered by other accounts (mode {stat.S_IMODE(folder.stat().st_mode):04o}), "
                    f"so the students' servers cannot reach {path}: chmod o+x {folder}, or move the course")
    return None


def _run(argv: list[str], what: str, stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"{what} failed ({(done.stderr or done.stdout).strip()[:300]})",
                        "fix the account database, then run the same command again")


def create(plan: HubPlan, secret: Path) -> list[str]:
    """Create the missing accounts (private homes, first passwords) and the course account; returns the names made.

    The first passwords go to ``secret/passwords.csv`` (appended; 0600).
    """
    made: list[str] = []
    passwords: list[tuple[str, str]] = []
    if _exists(plan.grader) is None:
        _run(["useradd", "--create-home", "--user-group", "--shell", "/usr/sbin/nologin", plan.grader],
             f"useradd {plan.grader}")
        made.append(plan.grader)
    grader_home = Path(pwd.getpwnam(plan.grader).pw_dir)
    os.chmod(grader_home, 0o700)
    for person in plan.people:
        if _exists(person.name) is not None:
            continue
        _run(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", person.name],
             f"useradd {person.name}")
        password = secrets.token_urlsafe(12)
        _run(["chpasswd"], f"chpasswd {person.name}", stdin=f"{person.name}:{password}\n")
        os.chmod(pwd.getpwnam(person.name).pw_dir, 0o700)
        made.append(person.name)
        passwords.append((person.name, password))
    # The course account reads every submission through its student's own group (autograder/platforms/hub/private_submit.py).
    students = plan.named("student")
    if students:
        _run(["usermod", "--append", "--groups", ",".join(students), plan.grader], f"usermod {plan.grader}")
    if passwords:
        secret.mkdir(parents=True, exist_ok=True)
        os.chmod(secret, 0o700)
        path = secret / "passwords.csv"
        new = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            if new:
                writer.writerow(["account", "first_password"])
            writer.writerows(passwords)
    own_course(plan)
    return made


def own_course(plan: HubPlan) -> None:
    """Give the course account the course directory and what nbgrader writes in it (the kit itself stays read-only)."""
    entry = pwd.getpwnam(plan.grader)
    root = plan.root
    os.chown(root, entry.pw_uid, entry.pw_gid)
    for name in COURSE_OUTPUTS:
        (root / name).mkdir(exist_ok=True)
        for folder, dirs, files in os.walk(root / name):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            for f in files:
                os.chown(os.path.join(folder, f), entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    for name in COURSE_FILES:
        if (root / name).exists():
            os.chown(root / name, entry.pw_uid, entry.pw_gid)
