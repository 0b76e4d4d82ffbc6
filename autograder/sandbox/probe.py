"""Before any student code runs: can a kernel be confined on this machine? (:func:`probe`)

``grade`` stops with :func:`fix` when it cannot; ``check`` runs unconfined and says so.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.sandbox.limits import LAUNCHER, Limits, UidClaims, is_root, kernel_env, make_box, policy


def fix() -> str:
    """What to do when :func:`probe` fails (the second half of grading's one-line error)."""
    first = ("grade on a machine that allows namespaces (not inside a container that forbids them)" if is_root() else
             "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also "
             "kernel.apparmor_restrict_unprivileged_userns=0) or grade as root")
    return (f"{first}, or grade in containers (--container unet-grader:cpu); "
            "--no-sandbox grades unconfined and says so in grades.csv")


_PROBE = """import json, os, sys
root = sys.argv[1]
try:
    seen = sorted(os.listdir(root))
except OSError:
    seen = []
print(json.dumps({"uid": os.getuid(), "root": seen, "pids": sum(p.isdigit() for p in os.listdir("/proc"))}))
"""


def probe(*, course_root: Path, limits: Limits, timeout: float = 60) -> str | None:
    """Whether a kernel can be confined here: None when it can, else the reason (one line).

    Runs the launcher on a throw-away box with a tiny program instead of a kernel, and checks what
    that program sees: of the course root at most ``limits.allow``, none of the machine's other
    processes, and its own uid as root.
    """
    claims = UidClaims(limits.uid_base) if is_root() else None
    with tempfile.TemporaryDirectory(prefix="ag-probe-") as tmp:
        try:
            os.chmod(tmp, 0o711)
            uid = claims.uid(0) if claims else os.getuid()
            box = Path(tmp) / "box"
            make_box(box, uid)
            rules = policy(limits=limits, slot=0, box=box, cgroup_procs=[], course_root=Path(course_root), uid=uid)
            rules.write(Path(tmp) / "policy.json")
            done = subprocess.run([sys.executable, "-I", str(LAUNCHER), str(Path(tmp) / "policy.json"), "--",
                                   sys.executable, "-I", "-c", _PROBE, os.path.realpath(course_root)],
                                  capture_output=True, text=True, timeout=timeout, env=kernel_env(dict(os.environ)))
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
            return f"the sandbox check failed ({type(error).__name__}: {error})"
        finally:
            if claims:
                claims.release()
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        last = lines[-1] if lines else f"the sandbox check exited with code {done.returncode}"
        refused = re.search(r"cannot confine the kernel \((.*)\); no student code was run", last)
        return (refused.group(1) if refused else last)[:300]
    try:
        seen = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"the sandbox check printed no result ({done.stdout[-200:]!r})"
    extra = set(seen["root"]) - set(limits.allow)
    if extra:
        return f"the confined check could still read {', '.join(sorted(extra))} in {course_root}"
    if seen["pids"] > 8 and not rules.in_container:  # a container's own few processes are its business
        return "the confined check could still see the machine's processes"
    if is_root() and seen["uid"] == 0:
        return "the confined check still ran as root"
    return None
