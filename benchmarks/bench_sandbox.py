"""The sandbox's start-up cost per kernel: the launcher with and without confinement, side by side.

Each round starts ``python -I -c pass`` through the launcher twice, alternating: once with the kernel's real
policy (namespaces, the allow-list root, the uid switch as root) and once with the same policy unconfined
(``confine: false``, what ``--no-sandbox`` runs). The difference of the medians is what confinement adds to a
kernel's start; a warm kernel pays the same set-up in-process (``autograder.run.warm``).

    .venv/bin/python benchmarks/bench_sandbox.py [--rounds 30]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.sandbox import limits as sandbox  # noqa: E402
from autograder.sandbox.probe import probe  # noqa: E402
from autograder.course.settings import Autograder  # noqa: E402

LIMITS = Autograder().limits()  # the defaults of c.Autograder


def _policy(tmp: Path, confine: bool, uid: int) -> Path:
    box = tmp / ("box" if confine else "open-box")
    sandbox.make_box(box, uid)
    rules = sandbox.policy(limits=LIMITS, slot=0, box=box, cgroup_procs=[], course_root=REPO, uid=uid,
                           confine=confine)
    path = tmp / f"policy-{confine}.json"
    rules.write(path)
    return path


def _start(policy: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-I", str(sandbox.LAUNCHER), str(policy), "--", sys.executable, "-I", "-c", "pass"],
                   check=True, env=sandbox.kernel_env(dict(os.environ)))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30)
    args = p.parse_args(argv)
    why = probe(course_root=REPO, limits=LIMITS)
    if why is not None:
        print(f"Error: the sandbox cannot be set up here ({why})", file=sys.stderr)
        return 1
    claims = sandbox.UidClaims(LIMITS.uid_base) if sandbox.is_root() else None
    uid = claims.uid(0) if claims else os.getuid()
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="ag-bench-") as tmp:
        os.chmod(tmp, 0o711)
        policies = {c: _policy(Path(tmp), c, uid) for c in (True, False)}
        for i in range(args.rounds):
            for confine in ((True, False) if i % 2 == 0 else (False, True)):
                times[confine].append(_start(policies[confine]))
    if claims:
        claims.release()
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"kernel start through the launcher, median of {args.rounds} each ({'root' if sandbox.is_root() else 'user namespace'}), "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"  confined   : {on * 1000:7.1f} ms")
    print(f"  unconfined : {off * 1000:7.1f} ms")
    print(f"  sandbox start-up cost per kernel: {(on - off) * 1000:.1f} ms (ratio {on / off:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
