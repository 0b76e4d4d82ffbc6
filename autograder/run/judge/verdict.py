"""Judge one graded check cell from the evidence its kernel emitted.

Evidence is untrusted data: its size is bounded, its shape is checked field by field before any
value is used, it is never unpickled, executed or turned back into Keras objects. Every case the
cell must cover (its fixed cases plus the grader's challenge case) is compared with the reference,
computed here, in the grader's process, from the instructor's solution cells (the release stored them,
with the exercises' definitions, in a bundle per notebook: :mod:`autograder.course.exercise_book`).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from test_utils import exercises, structure, unet_wiring
from test_utils._style import strip_ansi
from test_utils.evidence import MIME, SCHEMA, failure_lines
from test_utils.metric_diagnosis import metric_problems, saves_cause

from autograder.run.judge.references import References

__all__ = ["MIME", "MAX_EVIDENCE_BYTES", "Verdict", "exercise_of", "judge_cell", "ReferenceCache",
           "cases_to_judge", "compute_frozen"]

#: Largest evidence output accepted, in bytes of JSON.
MAX_EVIDENCE_BYTES = 1_000_000
_MAX_DEPTH = 12
_REL_TOL = 1e-3


class EvidenceError(ValueError):
    """Evidence that is missing, malformed or too large."""


@dataclass(frozen=True)
class Verdict:
    """The judge's decision on one cell: ``ok``, or a one-line reason (``bad_evidence``: not judged)."""

    ok: bool
    reason: str = ""
    bad_evidence: bool = False


def exercise_of(names: Any, grade_id: str) -> tuple[str, str] | None:
    """``(exercise, "public"|"hidden")`` when ``grade_id`` is a check cell of one of the exercises ``names``."""
    owners = [name for name in names if grade_id.startswith(f"test_{name}")]
    if not owners:
        return None
    name = max(owners, key=len)
    return name, ("hidden" if grade_id.endswith("_hidden") else "public")


class ReferenceCache:
    """Reference evidence by (exercise, case, seed): in memory, and in ``folder`` shared by a run's workers.

    ``bundles``: notebook -> the bundle the release stored. A case without numbers does not depend on
    the seed, so its key leaves the seed out. Whoever computes a missing entry holds ``folder/.lock``
    meanwhile, so a run computes each reference once; the references of fixed cases were computed at
    release (the bundle's ``frozen``) and are never computed while grading.
    """

    def __init__(self, bundles: dict[str, dict[str, Any]], folder: str | Path | None = None,
                 wait_s: float = 600.0) -> None:
        self.bundles = bundles
        self.folder = Path(folder) if folder else None
        self.wait_s = wait_s
        self.memory: dict[str, Any] = {}
        self._references: dict[str, References] = {}

    def references(self, notebook: str) -> References:
        """The reference answers of one notebook (run once per process)."""
        if notebook not in self._references:
            self._references[notebook] = References(self.bundles[notebook])
        return self._references[notebook]

    @staticmethod
    def key(exercise: str, case: dict[str, Any], seed: int) -> str:
        """The entry's name: a hash of the exercise, the case and (for cases with numbers) the seed."""
        used = seed if case.get("numbers") else None
        return hashlib.sha256(json.dumps([exercise, case, used], sort_keys=True).encode()).hexdigest()[:32]

    def _read(self, path: Path | None) -> Any:
        if path is None or not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def get(self, notebook: str, exercise: str, case: dict[str, Any], seed: int) -> Any:
        """The reference's evidence for one case: frozen at release, cached by the run, or computed here."""
        key = self.key(exercise, case, seed)
        if key in self.memory:
            return self.memory[key]
        frozen = self.bundles[notebook].get("frozen", {}).get(key)
        if frozen is not None:
            self.memory[key] = frozen
            return frozen
        path = self.folder / f"{key}.json" if self.folder else None
        value = self._read(path)
        if value is None:
            with self._locked():
                value = self._read(path)
                if value is None:
                    value = self._compute(self.references(notebook), exercise, case, seed, path)
        self.memory[key] = value
        return value

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self.folder is None:
            yield
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / ".lock", "a")
        except OSError:
            yield
            return
        with handle:
            deadline = time.monotonic() + self.wait_s
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        break  # compute without the lock rather than wait for ever
                    time.sleep(0.2)
            yield

    @staticmethod
    def _compute(references: References, exercise: str, case: dict[str, Any], seed: int, path: Path | None) -> Any:
        value = json.loads(json.dumps(references.expected(exercise, case, seed)))  # plain JSON, as read back
        if path is not None:
            try:
                fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
                with os.fdopen(fd, "w") as fh:
                    json.dump(value, fh)
                os.replace(tmp, path)
            except OSError:
                pass
        return value


def compute_frozen(references: References) -> dict[str, Any]:
    """Key -> reference evidence for every fixed case of a notebook's exercises (stored in its bundle at release)."""
    out = {}
    for exercise, spec in references.specs.items():
        for part in ("public", "hidden"):
            for case in spec.cases(part):
                if not case.get("numbers"):
                    out[ReferenceCache.key(exercise, case, 0)] = ReferenceCache._compute(references, exercise, case, 0, None)
    return out


def cases_to_judge(spec: exercises.ExerciseSpec, part: str, seed: int | None) -> list[dict[str, Any]]:
    """Every case the ``part`` check of ``spec`` must cover in a run with ``seed`` (``None``: no challenge)."""
    return spec.cases(part) + ([exercises.challenge_case(spec, part, seed)] if seed is not None else [])


# ------------------------------------------------------------------------------------- shape checks

def _need(condition: bool, what: str) -> None:
    if not condition:
        raise EvidenceError(what)


def _plain_json(value: Any, depth: int = 0) -> None:
    _need(depth <= _MAX_DEPTH, "nested too deeply")
    if isinstance(value, dict):
        _need(all(isinstance(k, str) for k in value), "a key is not a string")
        for item in value.values():
            _plain_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _plain_json(item, depth + 1)
    elif isinstance(value, float):
        _need(math.isfinite(value), "a number is not finite")
    else:
        _need(value is None or isinstance(value, (str, int, bool)), f"a value of type {type(value).__name__}")


def _description_ok(description: Any) -> None:
    _need(isinstance(description, dict) and isinstance(description.get("layers"), list)
          and isinstance(description.get("outputs"), list), "a description is not {'layers': [...], 'outputs': [...]}")
    _need(len(description["layers"]) <= 500, "a description has too many layers")
    for row in description["layers"]:
        _need(isinstance(row, list) and len(row) == 4 and isinstance(row[0], str) and isinstance(row[2], dict)
              and isinstance(row[3], list), "a layer row is not [class, shape, settings, inputs]")


def _calls_ok(calls: Any) -> None:
    _need(isinstance(calls, dict) and set(calls) <= set(unet_wiring.BLOCKS), "block calls are malformed")
    for found in calls.values():
        _need(isinstance(found, list) and len(found) <= unet_wiring.MAX_CALLS, "block calls are malformed")
        for call in found:
            _need(isinstance(call, dict) and len(call) <= 8 and all(
                isinstance(v, (int, float, bool, str)) and (not isinstance(v, str) or len(v) <= 200)
                for v in call.values()), "a block call is malformed")


def _numbers_ok(numbers: Any) -> None:
    _need(isinstance(numbers, dict) and set(numbers) <= {"inference", "training"}, "numbers are malformed")
    for measured in numbers.values():
        _need(isinstance(measured, list) and len(measured) <= 8, "numbers are malformed")
        for item in measured:
            _need(isinstance(item, dict) and isinstance(item.get("shape"), list)
                  and isinstance(item.get("norm"), (int, float)) and isinstance(item.get("projections"), list)
                  and len(item["projections"]) == exercises.PROJECTIONS, "numbers are malformed")


def validate(payload: Any) -> dict[str, Any]:
    """Check the evidence's shape field by field; raise :class:`EvidenceError` naming what is wrong."""
    _plain_json(payload)
    _need(isinstance(payload, dict), "evidence is not an object")
    _need(payload.get("schema") == SCHEMA, f"evidence schema is {payload.get('schema')!r}, expected {SCHEMA}")
    _need(isinstance(payload.get("exercise"), str) and payload.get("part") in ("public", "hidden"),
          "exercise or part missing")
    _need(isinstance(payload.get("signature"), list), "signature missing")
    cases = payload.get("cases")
    _need(isinstance(cases, list) and 0 < len(cases) <= 20, "cases missing")
    for entry in cases:
        _need(isinstance(entry, dict) and isinstance(entry.get("case"), dict), "a case is malformed")
        if "error" in entry:
            _need(isinstance(entry["error"], str), "an error is not a string")
            if "partial" in entry:
                _description_ok(entry["partial"])
        elif "metric" in entry:
            metric = entry["metric"]
            _need(isinstance(metric, dict) and isinstance(metric.get("values"), list)
                  and all(isinstance(v, (int, float)) for v in metric["values"]), "metric values are malformed")
        else:
            _description_ok(entry.get("description"))
            if "numbers" in entry:
                _numbers_ok(entry["numbers"])
            if "calls" in entry:
                _calls_ok(entry["calls"])
    return payload


# ------------------------------------------------------------------------------------- judging

def _close(got: float, want: float, scale: float) -> bool:
    return abs(float(got) - float(want)) <= _REL_TOL * max(scale, 1e-3)


def _numbers_problem(got: dict[str, Any], want: dict[str, Any]) -> str | None:
    for mode, outputs in want.items():
        measured = got.get(mode)
        if not isinstance(measured, list) or len(measured) != len(outputs):
            return f"no {mode}-mode outputs recorded"
        for position, (g, w) in enumerate(zip(measured, outputs), start=1):
            scale = float(w["norm"])
            if g["shape"] != w["shape"] or not _close(g["norm"], w["norm"], scale) or not all(
                    _close(a, b, scale) for a, b in zip(g["projections"], w["projections"])):
                return (f"output {position} computed in {mode} mode differs from the reference's with the same "
                        "weights and inputs, although the layers look the same")
    return None


def _metric_close(got: float, want: float) -> bool:
    return abs(got - want) <= 1e-4


def _judge_case(spec: exercises.ExerciseSpec, entry: dict[str, Any], want: Any) -> str | None:
    if "error" in entry:
        return failure_lines(spec, entry, want.get("description") if isinstance(want, dict) else None)[0]
    if spec.kind == "metric":
        problems = metric_problems(entry.get("metric", {}), want, entry["case"], _metric_close)
        return strip_ansi(problems[0]) if problems else None
    if isinstance(want.get("calls"), dict) and isinstance(entry.get("calls"), dict):
        # a model's block calls first, in the public check's words (its wiring check leads the same way)
        calls = unet_wiring.compare_calls(entry["calls"], want["calls"])
        if calls:
            return structure_line(calls)
    problems = structure.differences(entry["description"], want["description"], spec.free, spec.output_names)
    if problems:
        return structure_line(problems)
    if "numbers" in want:
        return _numbers_problem(entry.get("numbers") or {}, want["numbers"])
    return None


def structure_line(problems: list[str]) -> str:
    """The first difference, plain text, plus how many more there are."""
    text = strip_ansi(problems[0])
    return text + (f" (and {len(problems) - 1} more differences)" if len(problems) > 1 else "")


def judge_cell(notebook: str, grade_id: str, payloads: list[Any], seed: int | None,
               cache: ReferenceCache) -> Verdict | None:
    """The verdict on one graded cell, or ``None`` when the cell is not one the judge decides.

    ``seed``: the run's challenge seed, or ``None`` where none was given (plain ``nbgrader autograde``):
    then only the fixed cases are judged.
    """
    bundle = cache.bundles.get(notebook)
    found = exercise_of(bundle["exercises"], grade_id) if bundle else None
    if found is None:
        if payloads:  # evidence nobody can judge must not pass: the references were not released
            return Verdict(False, "the grader has no reference for this check: its assignment's references/ "
                                  "folder is missing (python -m autograder release ASSIGNMENT makes it)", bad_evidence=True)
        return None
    exercise, part = found
    spec = cache.references(notebook).specs[exercise]
    if not payloads:
        return Verdict(False, "no evidence: the check did not report what it checked", bad_evidence=True)
    if len(payloads) > 1:
        return Verdict(False, f"{len(payloads)} evidence outputs, expected one", bad_evidence=True)
    raw = payloads[0]
    try:
        size = len(json.dumps(raw))
    except (TypeError, ValueError, RecursionError):
        return Verdict(False, "evidence is not plain JSON", bad_evidence=True)
    if size > MAX_EVIDENCE_BYTES:
        return Verdict(False, f"evidence is {size} bytes, more than {MAX_EVIDENCE_BYTES}", bad_evidence=True)
    try:
        payload = validate(raw)
    except (EvidenceError, RecursionError) as error:
        return Verdict(False, f"malformed evidence: {error}", bad_evidence=True)
    if payload["exercise"] != exercise or payload["part"] != part or payload.get("challenge") != seed:
        return Verdict(False, "evidence is for another check or another grading run", bad_evidence=True)
    cases = cases_to_judge(spec, part, seed)
    got_cases = [entry["case"] for entry in payload["cases"]]
    if not structure.same_value(got_cases, cases):
        return Verdict(False, "evidence does not cover the cases this check runs", bad_evidence=True)
    if payload["signature"] != [list(pair) for pair in spec.signature]:
        return Verdict(False, f"{spec.function}'s arguments or defaults were changed")
    for entry, case in zip(payload["cases"], cases):
        problem = _judge_case(spec, entry, cache.get(notebook, exercise, case, seed if seed is not None else 0))
        if problem:
            return Verdict(False, problem)
    if spec.kind == "metric" and payload.get("saves") != "ok":
        return Verdict(False, saves_cause(str(payload.get("saves"))[:300]))
    return Verdict(True)
