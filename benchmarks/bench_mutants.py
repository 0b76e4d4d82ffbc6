"""Mutation-testing benchmark: are the notebooks' checks fair?

Every assignment whose source notebook declares exercises is taken (or one, with ``--assignment``). Mutants of
the instructor's answers (``benchmarks/mutants/generate.py``: generic operators picked by each exercise's kind)
are judged by an oracle that does not use the checks' code and builds its reference from the same notebook
(``benchmarks/mutants/oracle.py``): *wrong* when they change what the notebook asks for,
*equivalent* otherwise, and *visible* when the difference shows at the public check's own settings. Then every
mutant is graded as a student of a scratch copy of the course with ``python -m autograder grade``. A fair set
of checks catches every wrong mutant (the public check every visible one) and never costs an equivalent
rewrite a point.

    .venv/bin/python benchmarks/bench_mutants.py --list                   # the mutants, no TensorFlow
    .venv/bin/python benchmarks/bench_mutants.py --oracle-only --sample 20
    .venv/bin/python benchmarks/bench_mutants.py --sample 8 --jobs 2      # a graded sample
    .venv/bin/python benchmarks/bench_mutants.py --only m0151,m0055       # regrade some mutants
    .venv/bin/python benchmarks/bench_mutants.py --strict                 # everything; exit 1 unless fair

The last line is always
``mutants: N generated, E equivalent; caught by public checks P of V visible, by any check A of M; survived S;
equivalents failed F; diagnosed D of C``: of the C caught mistakes, D have a first explanation line (the public
check's, else the grader's) that names what the mutant changed (``benchmarks/mutants/diagnosis.py``; goal
D/C >= 95%). ``--json`` lists the undiagnosed ones with their first line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.mutants.generate import Mutant, assignments, generate, sample  # noqa: E402


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def select(assignment: str, k: int | None, seed: int = 2024) -> list[Mutant]:
    mutants = generate(None if assignment == "all" else (assignment,))
    return sample(mutants, k, seed) if k else mutants


def list_mutants(mutants: list[Mutant]) -> None:
    print(f"{'id':<6} {'exercise':<20} {'operator':<14} {'meant as':<10} description")
    for m in mutants:
        meant = {True: "equivalent", False: "mistake", None: "either"}[m.intended]
        print(f"{m.id:<6} {m.exercise:<20} {m.operator:<14} {meant:<10} {m.description}")
    print()
    for (assignment, exercise), n in sorted(Counter((m.assignment, m.exercise) for m in mutants).items()):
        print(f"{assignment}/{exercise}: {n}")
    print("by operator: " + ", ".join(f"{op} {n}" for op, n in Counter(m.operator for m in mutants).most_common()))
    print(f"{len(mutants)} mutants, {sum(m.intended is True for m in mutants)} written as equivalent rewrites")


def run_oracle(mutants: list[Mutant]) -> dict[str, "object"]:
    from benchmarks.mutants.generate import solutions
    from benchmarks.mutants.oracle import Oracle

    oracle = Oracle()
    for assignment in sorted({m.assignment for m in mutants}):  # the oracle must accept the solutions themselves
        for exercise, code in solutions(assignment).items():
            verdict = oracle.judge_code(assignment, exercise, code)
            if not verdict.equivalent:
                raise SystemExit(f"Error: the oracle rejects the instructor's {exercise}: {verdict.reason}")
    verdicts = {}
    for i, m in enumerate(mutants, 1):
        verdicts[m.id] = oracle.judge(m)
        if i % 25 == 0 or i == len(mutants):
            _log(f"oracle: {i}/{len(mutants)}")
    return verdicts


def run_grading(mutants: list[Mutant], jobs: int, keep: Path | None,
                released: Callable[[str], Path] | None = None) -> tuple[dict, dict]:
    """student id -> Outcome, and assignment -> the control's Outcome per exercise. ``released(assignment)``: a
    course with that assignment already released, copied instead of releasing it again."""
    from benchmarks.mutants import grading

    outcomes, controls = {}, {}
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        for assignment in sorted({m.assignment for m in mutants}):
            group = [m for m in mutants if m.assignment == assignment]
            course = (keep or Path(tmp)) / assignment
            t0 = time.monotonic()
            grading.make_course(course, assignment, group, released=released(assignment) if released else None)
            rows = grading.grade(course, assignment, jobs)
            _log(f"graded {len(group) + 1} submissions of {assignment} in {time.monotonic() - t0:.0f} s ({course})")
            points = grading.check_points(assignment)
            graded = {m.id: grading.outcome(m.exercise, rows.get(m.id), points) for m in group}
            outcomes.update(grading.diagnose(course, assignment, group, graded))
            controls[assignment] = grading.outcome("", rows.get(grading.CONTROL), points)
    return outcomes, controls


def _undiagnosed(mutants: list[Mutant], verdicts: dict, outcomes: dict) -> list[Mutant]:
    """The caught mistakes whose first explanation line does not name what they changed."""
    return [m for m in mutants if not verdicts[m.id].equivalent and outcomes[m.id].caught
            and not outcomes[m.id].diagnosed]


def report(mutants: list[Mutant], verdicts: dict, outcomes: dict, controls: dict) -> tuple[str, dict[str, int]]:
    """Print the table of problems; return the summary line and its numbers."""
    rows = []
    for m in mutants:
        v, o = verdicts[m.id], outcomes[m.id]
        if v.equivalent:
            if o.lost:
                rows.append((m, "EQUIVALENT-FAILED", f"lost {', '.join(o.lost)} [{o.status}]"))
            elif m.intended is False:
                rows.append((m, "note: equivalent", "written as a mistake, but the oracle sees no difference"))
            continue
        if m.intended is True:
            rows.append((m, "note: wrong", f"written as an equivalent rewrite; oracle: {v.reason}"))
        if not o.caught:
            rows.append((m, "SURVIVED", ("visible" if v.visible else "hidden only") + f"; oracle: {v.reason}"))
        elif v.visible and not o.caught_public:
            rows.append((m, "PUBLIC-MISSED", f"visible at the public settings; oracle: {v.reason}"))
        elif not v.visible:
            rows.append((m, "hidden-only", f"caught by {', '.join(c for c in o.lost if c not in o.collateral)}"))
        if o.collateral:
            rows.append((m, "COLLATERAL", f"also lost {', '.join(o.collateral)}"))
    for assignment, control in controls.items():
        if control.lost:
            print(f"WARNING: the unchanged solution lost points in {assignment}: {', '.join(control.lost)} "
                  f"[{control.status}]; the results below are not trustworthy")
    if rows:
        print(f"{'id':<6} {'exercise':<20} {'finding':<18} description -- detail")
        for m, finding, detail in rows:
            print(f"{m.id:<6} {m.exercise:<20} {finding:<18} {m.description} -- {detail}"[:400])
    statuses = Counter(outcomes[m.id].status for m in mutants)
    if set(statuses) - {"graded"}:
        print("grading statuses: " + ", ".join(f"{s} {n}" for s, n in statuses.most_common()))
    wrong = [m for m in mutants if not verdicts[m.id].equivalent]
    visible = [m for m in wrong if verdicts[m.id].visible]
    n = {"N": len(mutants), "E": len(mutants) - len(wrong), "M": len(wrong), "V": len(visible),
         "P": sum(outcomes[m.id].caught_public for m in visible), "A": sum(outcomes[m.id].caught for m in wrong),
         "F": sum(bool(outcomes[m.id].lost) for m in mutants if verdicts[m.id].equivalent)}
    n["S"] = n["M"] - n["A"]
    caught = [m for m in wrong if outcomes[m.id].caught]
    n["C"], n["D"] = len(caught), sum(outcomes[m.id].diagnosed for m in caught)
    undiagnosed = _undiagnosed(mutants, verdicts, outcomes)
    if undiagnosed:
        print("first lines that do not name the mistake:")
        for m in undiagnosed:
            print(f"{m.id:<6} {m.exercise:<20} {m.description} -- {outcomes[m.id].first}"[:400])
        print("undiagnosed by operator: " + ", ".join(f"{op} {k}" for op, k in
                                                     Counter(m.operator for m in undiagnosed).most_common()))
    line = (f"mutants: {n['N']} generated, {n['E']} equivalent; caught by public checks {n['P']} of {n['V']} visible, "
            f"by any check {n['A']} of {n['M']}; survived {n['S']}; equivalents failed {n['F']}; "
            f"diagnosed {n['D']} of {n['C']}")
    return line, n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", choices=[*assignments(), "all"], default="all",
                   help="one assignment (a folder of source/ whose notebook declares exercises); default all")
    p.add_argument("--sample", type=int, metavar="K", help="a deterministic subset of K mutants per assignment")
    p.add_argument("--seed", type=int, default=2024, help="seed of --sample (default 2024)")
    p.add_argument("--only", metavar="ID,ID", help="just these mutants (e.g. to regrade the ones a run reported)")
    p.add_argument("--list", action="store_true", help="print the mutants and their counts; no oracle, no grading")
    p.add_argument("--oracle-only", action="store_true", help="judge the mutants with the oracle, do not grade")
    p.add_argument("--keep", type=Path, metavar="DIR", help="grade in DIR/<assignment> and keep it")
    p.add_argument("--jobs", type=int, default=2, help="parallel grading jobs (default 2)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write every mutant's verdict and outcome here")
    p.add_argument("--strict", action="store_true", help="exit 1 unless nothing survived, no equivalent failed and "
                                                         "the public checks caught every visible mutant")
    args = p.parse_args(argv)

    t0 = time.monotonic()
    mutants = select(args.assignment, args.sample, args.seed)
    if args.only:
        wanted = {m.strip() for m in args.only.split(",") if m.strip()}
        mutants = [m for m in mutants if m.id in wanted]
        unknown = wanted - {m.id for m in mutants}
        if unknown:
            raise SystemExit(f"Error: no mutant {', '.join(sorted(unknown))} (see --list)")
    if args.list:
        list_mutants(mutants)
        return 0
    verdicts = run_oracle(mutants)
    t_oracle = time.monotonic() - t0
    _log(f"oracle: {len(mutants)} mutants in {t_oracle:.0f} s")
    if args.oracle_only:
        wrong = [m for m in mutants if not verdicts[m.id].equivalent]
        for m in mutants:
            v = verdicts[m.id]
            if v.equivalent != (m.intended is True) and m.intended is not None:
                print(f"{m.id:<6} {m.exercise:<20} {'equivalent' if v.equivalent else 'wrong':<11} "
                      f"(written as {'equivalent' if m.intended else 'mistake'}) {m.description} {v.reason}"[:300])
        print(f"oracle: {len(mutants)} mutants, {len(mutants) - len(wrong)} equivalent, {len(wrong)} wrong, "
              f"{sum(verdicts[m.id].visible for m in wrong)} of them visible at the public settings")
        return 0
    outcomes, controls = run_grading(mutants, args.jobs, args.keep)
    _log(f"total {time.monotonic() - t0:.0f} s")
    line, n = report(mutants, verdicts, outcomes, controls)
    if args.json:
        undiagnosed = [{"id": m.id, "exercise": m.exercise, "operator": m.operator, "description": m.description,
                        "first_line": outcomes[m.id].first} for m in _undiagnosed(mutants, verdicts, outcomes)]
        args.json.write_text(json.dumps({"summary": line, "undiagnosed": undiagnosed,
                                         "mutants": [{**m.__dict__, "verdict": verdicts[m.id].__dict__,
                                                      "outcome": outcomes[m.id].__dict__} for m in mutants]}, indent=1))
    print(line)
    if args.strict and (n["S"] or n["F"] or n["P"] != n["V"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
