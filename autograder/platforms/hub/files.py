"""The course hub's configuration, written alike for this machine and for ``--config-only DIR``.

The plan goes into one JSON file (``hub.json``); the two JupyterHub config files are fixed text that read it, so
what the test starts is what an instructor copies. Layout of the folder (``STATE`` or ``DIR``)::

    hub.json                    the plan: course, people, ports, paths
    jupyterhub_config.py        this machine's hub: PAM, local spawner, 127.0.0.1, state files; loads the next one
    course_hub_config.py        the course on any hub: users, nbgrader's groups, roles and scopes, the Formgrader
                                service, each seat's server settings (TLJH: drop it into jupyterhub_config.d/)
    jupyter/{student,staff,grader}/nbgrader_config.py and labconfig/page_config.json
                                each seat's nbgrader settings and JupyterLab parts
    exchange-setup.sh           the exchange folders and their modes (run as root; `hub` runs it too)
    z2jh-values.yaml            the same groups, roles and seats for a Zero to JupyterHub chart
    secret/                     (this machine only, mode 0700) the hub's database, cookie secret, first passwords
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from autograder.course.directory import load_config
from autograder.platforms.hub.settings import HubPlan
from autograder.instructor.lab import LAB_ANNOUNCEMENTS, LAB_COURSES, LAB_CREATE, LAB_FORMGRADER, lab_settings

__all__ = ["SEATS", "flags", "plan_json", "scopes", "write"]

KIT_ROOT = Path(__file__).resolve().parents[3]
#: The proxy the kit installs (`make hub-deps`, npm).
PROXY = KIT_ROOT / ".venv" / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
#: Settings of the course's config that a student's Validate needs (limits), copied into each seat's config.
VALIDATE_SECTIONS = ("ExecutePreprocessor", "ValidateBound")
SEATS = ("student", "staff", "grader")


def kit_bin(root: Path) -> Path:
    """The kit's environment's ``bin`` with JupyterHub in it: the course's own ``.venv``, else the kit's."""
    for candidate in (root / ".venv" / "bin", KIT_ROOT / ".venv" / "bin"):
        if (candidate / "jupyterhub-singleuser").is_file():
            return candidate
    return KIT_ROOT / ".venv" / "bin"


def seat_parts(seat: str) -> tuple[dict[str, bool], list[str]]:
    """(server extensions -> enabled, lab plugins to disable) of one seat.

    Students: Validate and the Assignment List. Staff (instructors, assistants): the same plus the Course List, which
    links to the Formgrader service; no Formgrader of their own. The course account's service: the Formgrader and
    Create Assignment, no Assignment List.
    """
    if seat == "student":
        return lab_settings(instructor=False, exchange=True)
    servers, _ = lab_settings(instructor=True, exchange=True)
    if seat == "staff":
        servers["nbgrader.server_extensions.formgrader"] = False
        return servers, [LAB_ANNOUNCEMENTS, LAB_FORMGRADER, LAB_CREATE]
    servers["nbgrader.server_extensions.assignment_list"] = False
    servers["nbgrader.server_extensions.course_list"] = False
    return servers, [LAB_ANNOUNCEMENTS, LAB_COURSES, "@jupyter/nbgrader:assignment-list"]


def flags(seat: str) -> list[str]:
    """The jupyterhub-singleuser arguments of one seat (server extensions win over every config file)."""
    servers, _ = seat_parts(seat)
    return ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *[f"--ServerApp.jpserver_extensions={name}={enabled}" for name, enabled in servers.items()]]


def scopes(plan: HubPlan) -> dict[str, list[str]]:
    """The least scopes the course needs, by holder (README, section JupyterHub, explains each)."""
    course = plan.course_id
    return {
        # Each user's server token: report activity, let its owner in, and read its owner's groups (nbgrader's
        # JupyterHubAuthPlugin lists the courses from them); staff servers also find the Formgrader (Course List).
        "server": ["users:activity!user", "access:servers!server", "read:users:name!user", "read:users:groups!user",
                   "list:services", f"read:services!service={course}"],
        # Staff: open the course's Formgrader and see it listed.
        plan.staff_group: [f"access:services!service={course}", "list:services", f"read:services!service={course}"],
        # The Formgrader service: nbgrader reads the course account's groups (which courses it grades) and adds the
        # students it is given to the course's group.
        f"service-{course}": [f"read:users:name!user={plan.grader}", f"read:users:groups!user={plan.grader}",
                              "list:groups", f"groups!group={plan.student_group}",
                              f"read:groups!group={plan.student_group}"],
    }


def plan_json(plan: HubPlan, *, state: Path, proxy: Path | None = None, venv_bin: Path | None = None) -> dict[str, Any]:
    """The plan as the config files read it (``venv_bin``: where the servers' commands are; default the kit's)."""
    bin_dir = venv_bin or kit_bin(plan.root)
    return {
        "course_id": plan.course_id,
        "root": str(plan.root),
        "grader": plan.grader,
        "instructors": plan.named("instructor"),
        "assistants": plan.named("assistant"),
        "students": plan.named("student"),
        "student_group": plan.student_group,
        "staff_group": plan.staff_group,
        "exchange": str(plan.exchange),
        "ip": plan.ip,
        "port": plan.port,
        "formgrader_port": plan.formgrader_port,
        "state": str(state),
        "venv_bin": str(bin_dir),
        "proxy": str(proxy or PROXY),
        "flags": {seat: flags(seat) for seat in SEATS},
        "scopes": scopes(plan),
    }


def _nbgrader_config(plan: HubPlan, seat: str) -> str:
    course = load_config(plan.root)
    lines = [
        '"""nbgrader settings of one seat of the course hub (written by `python -m autograder hub`)."""',
        "from nbgrader.auth import JupyterHubAuthPlugin",
        "",
        "c = get_config()  # noqa: F821",
        f"c.Exchange.root = {str(plan.exchange)!r}",
        f"c.CourseDirectory.course_id = {plan.course_id!r}",
        "# The courses a user sees come from their hub groups (nbgrader-<course>, formgrade-<course>).",
        "c.Authenticator.plugin_class = JupyterHubAuthPlugin",
        "# Submissions readable by their student and the course account only (autograder/platforms/hub/private_submit.py).",
        "c.ExchangeFactory.submit = 'autograder.platforms.hub.private_submit.PrivateSubmit'",
    ]
    if seat != "grader":
        lines.append("# Validate's limits, as in the course's nbgrader_config.py")
        for section in VALIDATE_SECTIONS:
            for key, value in sorted(course.get(section, {}).items()):
                if isinstance(value, (int, float, str, bool)):
                    lines.append(f"c.{section}.{key} = {value!r}")
    return "\n".join(lines) + "\n"


COURSE_HUB_CONFIG = '''"""The course on a JupyterHub: users, nbgrader's groups, roles and scopes, the Formgrader service, each seat.

Written by `python -m autograder hub`; reads hub.json beside it. On The Littlest JupyterHub, copy this file and
hub.json into /opt/tljh/config/jupyterhub_config.d/ and run `tljh-config reload`.
"""
import json
import os
import pwd
from pathlib import Path

c = get_config()  # noqa: F821
HERE = Path(os.environ.get("UNET_HUB_DIR") or Path(__file__).resolve().parent)
plan = json.loads((HERE / "hub.json").read_text(encoding="utf-8"))
course, staff = plan["course_id"], plan["instructors"] + plan["assistants"]
bin_dir = plan["venv_bin"]

c.Authenticator.allowed_users = set(staff + plan["students"])
c.Authenticator.admin_users = set(plan["instructors"])
# nbgrader's groups: the course's students (staff too, so they see the Assignment List), and who may grade.
c.JupyterHub.load_groups = {
    plan["student_group"]: {"users": staff + plan["students"]},
    # the course account too: the Formgrader asks the hub which courses its account grades (it never logs in)
    plan["staff_group"]: {"users": staff + [plan["grader"]]},
}
c.JupyterHub.load_roles = [
    {"name": "formgrade-" + course, "groups": [plan["staff_group"]], "scopes": plan["scopes"][plan["staff_group"]]},
    {"name": "service-" + course, "services": [course], "scopes": plan["scopes"]["service-" + course]},
]
c.Spawner.server_token_scopes = plan["scopes"]["server"]

# The Formgrader: a shared server run by the course account in the course directory, named after the course (nbgrader's
# Course List and JupyterHubAuthPlugin find it by that name). Only the staff group may open it.
c.JupyterHub.services = [{
    "name": course,
    "url": "http://127.0.0.1:%d" % plan["formgrader_port"],
    "user": plan["grader"],
    "cwd": plan["root"],
    "command": [bin_dir + "/jupyterhub-singleuser", "--ServerApp.default_url=/formgrader"] + plan["flags"]["grader"],
    "environment": {
        "PATH": bin_dir + ":/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": str(HERE / "jupyter" / "grader"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    },
    "oauth_no_confirm": True,
}]

c.Spawner.cmd = [bin_dir + "/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
# TensorFlow's first import on a busy machine takes a while: wait for the server rather than fail the spawn.
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300


def seat_of(name):
    return "staff" if name in staff else "student"


def pre_spawn_hook(spawner):
    """Each seat's nbgrader parts and settings; the kit's environment first on PATH (alembic, kernels)."""
    seat = seat_of(spawner.user.name)
    spawner.args = list(plan["flags"][seat])
    spawner.environment.update({
        "PATH": bin_dir + ":/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": str(HERE / "jupyter" / seat),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    })
    try:  # a private home: other students cannot read what this one fetched (fails closed: no spawn)
        home = pwd.getpwnam(spawner.user.name).pw_dir
    except KeyError:
        raise RuntimeError("no Unix account %r: create it (python -m autograder hub --roster)" % spawner.user.name)
    if os.stat(home).st_mode & 0o077:
        raise RuntimeError("the home %s of %r can be read by others: chmod 700 it" % (home, spawner.user.name))


c.Spawner.pre_spawn_hook = pre_spawn_hook
'''

HUB_CONFIG = '''"""This machine's course hub: PAM accounts, one server per user started as that user, on {ip} only by default.

Written by `python -m autograder hub` (start it with that command, or `jupyterhub -f` this file as root).
"""
import json
import os
from pathlib import Path

c = get_config()  # noqa: F821
HERE = Path(os.environ.get("UNET_HUB_DIR") or Path(__file__).resolve().parent)
load_subconfig(str(HERE / "course_hub_config.py"))  # noqa: F821
plan = json.loads((HERE / "hub.json").read_text(encoding="utf-8"))
secret = HERE / "secret"

c.JupyterHub.ip = plan["ip"]
c.JupyterHub.port = plan["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = plan["port"] + 1
c.ConfigurableHTTPProxy.command = [plan["proxy"]]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%d" % (plan["port"] + 3)
c.JupyterHub.db_url = "sqlite:///" + str(secret / "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = str(secret / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(secret / "jupyterhub.pid")
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no session manager on a bare server or in a container
c.JupyterHub.spawner_class = "localprocess"
c.JupyterHub.cleanup_servers = True
'''


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write(plan: HubPlan, folder: Path, *, proxy: Path | None = None, venv_bin: Path | None = None) -> list[Path]:
    """Write the whole configuration into ``folder`` (created); returns the files written."""
    from autograder.platforms.hub import exchange, values

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)  # each user's server reads its seat's config from here
    data = plan_json(plan, state=folder, proxy=proxy, venv_bin=venv_bin)
    written: dict[Path, str] = {
        folder / "hub.json": json.dumps(data, indent=2) + "\n",
        folder / "course_hub_config.py": COURSE_HUB_CONFIG,
        folder / "jupyterhub_config.py": HUB_CONFIG.format(ip=plan.ip),
        folder / "z2jh-values.yaml": values.render(plan, data),
    }
    for seat in SEATS:
        _, disabled = seat_parts(seat)
        written[folder / "jupyter" / seat / "nbgrader_config.py"] = _nbgrader_config(plan, seat)
        written[folder / "jupyter" / seat / "labconfig" / "page_config.json"] = json.dumps(
            {"disabledExtensions": {name: True for name in disabled}}, indent=2) + "\n"
    for path, text in written.items():
        _write(path, text)
    script = folder / "exchange-setup.sh"
    _write(script, exchange.script(plan), 0o755)
    for sub in [folder / "jupyter", *(folder / "jupyter" / s for s in SEATS)]:
        os.chmod(sub, 0o755)
        if (sub / "labconfig").is_dir():
            os.chmod(sub / "labconfig", 0o755)
    return [*written, script]

