"""``c.CourseHub`` in ``nbgrader_config.py`` and the plan of a course hub: people, accounts, groups, folders.

The staff are named in the course's config (they are few and change rarely); the students come from the roster
(``--roster roster.csv``, the file ``export`` reads). Everyone gets a Unix account of the same name, since the hub
logs people in with PAM and starts each server as its owner. Names become account names, group members and exchange
paths, so each one is checked against what ``useradd`` accepts before anything is created.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Int, List, TraitError, Unicode
from traitlets.config import Config, Configurable

from autograder.course.directory import load_config
from autograder.errors import UserError

__all__ = ["CourseHub", "HubPlan", "Person", "USERNAME", "check_username", "plan"]

#: What Debian's useradd accepts (NAME_REGEX) and the hub keeps as it is: lower case, at most 32 characters.
USERNAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
#: Accounts a roster may never name: the machine's own and the hub's.
RESERVED = frozenset({"root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
                      "www-data", "backup", "list", "irc", "nobody", "admin", "hub", "postgres", "munge", "slurm"})


class CourseHub(Configurable):
    """``c.CourseHub`` in ``nbgrader_config.py``: who teaches, where the exchange and the hub's state live."""

    instructors = List(Unicode(), help="Unix account names of the instructors (hub admins of this course)"
                       ).tag(config=True)
    assistants = List(Unicode(), help="Unix account names of the teaching assistants (Formgrader, no hub admin)"
                      ).tag(config=True)
    exchange = Unicode("/srv/nbgrader/exchange", help="the nbgrader exchange folder").tag(config=True)
    state = Unicode("/srv/jupyterhub/unet-course", help="the hub's database, secrets and generated config"
                    ).tag(config=True)
    service_port = Int(0, help="port of the Formgrader service on 127.0.0.1; 0: the hub's port + 2").tag(config=True)


@dataclass(frozen=True)
class Person:
    """One account of the course hub."""

    name: str
    role: str  # "instructor", "assistant", "student"
    row: int = 0  # the roster row, for messages (0: from the config)


@dataclass(frozen=True)
class HubPlan:
    """Everything the hub set-up creates or writes, decided before anything is touched."""

    root: Path  # the course directory (the Formgrader's)
    course_id: str
    people: tuple[Person, ...]
    exchange: Path
    state: Path
    ip: str = "127.0.0.1"
    port: int = 8000
    service_port: int = 0
    roster: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def grader(self) -> str:
        """The course account: owns the course directory and runs the Formgrader service."""
        return f"grader-{self.course_id}"[:32]

    @property
    def student_group(self) -> str:
        """nbgrader's group of the course's students (JupyterHubAuthPlugin reads it)."""
        return f"nbgrader-{self.course_id}"

    @property
    def staff_group(self) -> str:
        """nbgrader's group of those who may open the course's Formgrader."""
        return f"formgrade-{self.course_id}"

    def named(self, role: str) -> list[str]:
        """The account names of one role, in order."""
        return [p.name for p in self.people if p.role == role]

    @property
    def formgrader_port(self) -> int:
        return self.service_port or self.port + 2


def check_username(name: str, where: str) -> str:
    """``name`` if it can be a Unix account of the hub, else a :class:`UserError` naming ``where``."""
    if not USERNAME.fullmatch(name):
        raise UserError(f"{where}: {name!r} cannot be a Unix account name",
                        "use lower-case letters, digits, '-' and '_', starting with a letter, at most 32 characters")
    if name in RESERVED or name.startswith("grader-"):
        raise UserError(f"{where}: {name!r} is reserved for the system or the course account", "rename that person")
    return name


def _settings(config: Config, where: Path) -> CourseHub:
    try:
        return CourseHub(config=config)
    except TraitError as error:
        first = str(error).strip().splitlines()[0][:200]
        raise UserError(f"{where}: a c.CourseHub setting has the wrong type ({first})",
                        "fix that line of the config (README, section JupyterHub)") from None


def plan(*, root: Path, roster: Path | None, ip: str = "127.0.0.1", port: int = 8000,
         exchange: Path | None = None, state: Path | None = None) -> HubPlan:
    """The hub of the course at ``root``: staff from its config, students from ``roster`` (optional).

    Raises :class:`UserError` for a bad name, a person named twice, or a course with no instructor.
    """
    from autograder.instructor import roster as roster_file

    root = Path(root).resolve()
    where = root / "nbgrader_config.py"
    config = load_config(root)
    hub = _settings(config, where)
    course_id = str(config.get("CourseDirectory", {}).get("course_id") or "")
    if not course_id or not USERNAME.fullmatch(f"grader-{course_id}"[:32]):
        raise UserError(f"{where}: the course needs a c.CourseDirectory.course_id of lower-case letters, digits and '-'",
                        "set one, e.g. c.CourseDirectory.course_id = 'unet-course'")
    people: list[Person] = []
    seen: dict[str, str] = {}
    for role, names in (("instructor", hub.instructors), ("assistant", hub.assistants)):
        for name in names:
            check_username(name, f"{where} (c.CourseHub.{role}s)")
            if name in seen:
                raise UserError(f"{where}: {name!r} is named twice (as {seen[name]} and {role})",
                                "name each person once")
            seen[name] = role
            people.append(Person(name, role))
    if not any(p.role == "instructor" for p in people):
        raise UserError(f"{where}: the hub needs at least one instructor",
                        "add c.CourseHub.instructors = ['your-account'] to the config")
    if roster is not None:
        for entry in roster_file.read(Path(roster), "csv").values():
            name = check_username(entry.student_id, f"roster {roster} row {entry.row}")
            if name in seen:
                raise UserError(f"roster {roster} row {entry.row}: {name!r} is already named, as {seen[name]}",
                                "name each person once (staff in nbgrader_config.py, students in the roster)")
            seen[name] = "student"
            people.append(Person(name, "student", entry.row))
    return HubPlan(root=root, course_id=course_id, people=tuple(people),
                   exchange=Path(exchange or hub.exchange), state=Path(state or hub.state), ip=ip, port=port,
                   service_port=hub.service_port, roster=Path(roster) if roster else None)
