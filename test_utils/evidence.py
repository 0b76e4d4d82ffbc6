"""What a graded check cell runs: check the answer here, and record evidence for the grader.

``check(exercise, answer, expected)`` — the public check — takes the exercise as the cell defines it
(``exercise = {...}``, generated from the instructor's notebook when the assignment is released), builds the answer at the public sizes,
compares each case with the expected description shown in the cell (every setting, which layer feeds
which, what is returned) and raises ``AssertionError`` listing every difference, or prints
``All tests passed!``.

``record(exercise, answer)`` — the hidden check — builds the answer at the hidden sizes and settings.
Its verdict is decided by the grader, outside this kernel, against the instructor's solution (which
this kernel never sees).

While a notebook is graded (``NBGRADER_EXECUTION`` is set, or the grader passed a challenge seed in
``UNET_COURSE_CHALLENGE``), both also *emit evidence*: an output of MIME type :data:`MIME` holding the
descriptions (and, for the grader's challenge case, measured outputs) of the answer. The grader
judges it against its reference in its own process (:mod:`autograder.run.judge`); the schema is in the
README's grading section.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
from typing import Any, Sequence

from . import exercises, structure, unet_wiring
from .compare import comparator
from .layer_summary import summary
from .metric_diagnosis import failure_cause, metric_problems, saves_cause

__all__ = ["MIME", "SCHEMA", "CHALLENGE_ENV", "check", "record", "collect", "challenge_seed"]

MIME = "application/vnd.unet-course.evidence+json"
SCHEMA = 1
CHALLENGE_ENV = "UNET_COURSE_CHALLENGE"
#: What was built before a failure travels with the error only up to this size (the evidence's bound is 1 MB).
MAX_PARTIAL_BYTES = 200_000


def challenge_seed() -> int | None:
    """The grader's challenge seed, or ``None`` outside grading."""
    raw = os.environ.get(CHALLENGE_ENV, "").strip()
    return int(raw) if raw.isdigit() else None


def _describe_case(spec: exercises.ExerciseSpec, answer: Any, case: dict[str, Any], seed: int | None,
                   model: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"case": case}
    try:
        if spec.kind == "metric":
            entry["metric"] = exercises.metric_evidence(answer, case)
            return entry
        model = model if model is not None else exercises.build(spec, answer, case)
        entry["description"] = structure.describe(model)
        calls = block_calls(spec, answer, case)
        if calls is not None:
            entry["calls"] = calls
        if case.get("numbers") and seed is not None:
            described = entry["description"]
            entry["numbers"] = {"inference": exercises.measure(model, seed, training=False, description=described)}
            if spec.training_mode:
                entry["numbers"]["training"] = exercises.measure(model, seed, training=True, description=described)
    except Exception as error:  # the student's code failed: that is evidence too
        first = (str(error).strip().splitlines() or [""])[0]
        where = getattr(error, "failed_in", None)
        entry["error"] = f"{type(error).__name__}{f' while {where}' if where else ''}: {first}"[:400]
        partial = getattr(error, "partial_description", None)
        if partial is not None and len(partial["layers"]) <= 500 and len(json.dumps(partial)) <= MAX_PARTIAL_BYTES:
            entry["partial"] = partial
    return entry


def block_calls(spec: exercises.ExerciseSpec, answer: Any, case: dict[str, Any]) -> dict[str, Any] | None:
    """How a ``model`` exercise called the U-Net's blocks in ``case`` (:func:`unet_wiring.expected_calls`), so
    that the grader can name a block-call mistake in the public check's words; ``None`` for other exercises,
    or when tracing fails (the description and its error say why)."""
    if spec.kind != "model" or dict(spec.stand_ins) != unet_wiring.BLOCKS:
        return None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            calls = unet_wiring.expected_calls(unet_wiring.trace_unet(answer, **exercises.model_kwargs(case)))
    except Exception:  # noqa: BLE001 - a model that cannot be traced has no calls to compare
        return None
    if sum(len(v) for v in calls.values()) > unet_wiring.MAX_CALLS:
        return None
    return json.loads(json.dumps(calls, default=str))


def collect(exercise: "exercises.ExerciseSpec | dict[str, Any]", answer: Any, part: str, seed: int | None,
            built: dict[int, Any] | None = None) -> dict[str, Any]:
    """The evidence of one check cell: every case of ``part``, plus the grader's challenge case.

    ``built``: models already built for some of the cases (by position), described instead of rebuilt.
    """
    spec = exercises.spec_of(exercise)
    cases = spec.cases(part)
    if seed is not None:
        cases.append(exercises.challenge_case(spec, part, seed))
    try:
        signature = exercises.signature_of(answer)
    except (TypeError, ValueError):
        signature = []
    payload = {"schema": SCHEMA, "exercise": spec.name, "part": part, "challenge": seed, "signature": signature,
               "cases": [_describe_case(spec, answer, case, seed, (built or {}).get(index))
                         for index, case in enumerate(cases)]}
    if spec.kind == "metric":
        payload["saves"] = exercises.metric_saves(answer)
    return payload


def _emit(payload: dict[str, Any]) -> None:
    if not (os.environ.get("NBGRADER_EXECUTION") or challenge_seed() is not None):
        return
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:
        return
    display({MIME: payload}, raw=True)


def _case_text(spec: exercises.ExerciseSpec, case: dict[str, Any]) -> str:
    if spec.kind == "metric":
        return f"{case['classes']} classes"
    parts = [f"{k}={v!r}" for k, v in case["kwargs"].items()]
    if "inputs" in case:
        parts.insert(0, "inputs " + " and ".join(str(tuple(shape)) for shape in case["inputs"]))
    return ", ".join(parts)


def _signature_problem(spec: exercises.ExerciseSpec, signature: list[list[str]]) -> str | None:
    want = [list(pair) for pair in spec.signature]
    if signature == want:
        return None
    text = ", ".join(name if default == "<required>" else f"{name}={default}" for name, default in want)
    return f"{spec.function}'s arguments or defaults were changed: keep {spec.function}({text})"


def _signature_problems(spec: exercises.ExerciseSpec, payload: dict[str, Any]) -> list[str]:
    signature = _signature_problem(spec, payload["signature"])
    return [signature] if signature else []


def _saves_problems(payload: dict[str, Any]) -> list[str]:
    """A metric a saved model cannot be loaded back with (after the cases: their lines say more)."""
    return [] if payload.get("saves", "ok") == "ok" else [saves_cause(str(payload["saves"]))]


def failure_lines(spec: exercises.ExerciseSpec, entry: dict[str, Any], want: Any = None) -> list[str]:
    """What a case whose answer raised says: the likely cause first, then the error itself.

    The cause of a metric's failure is read from its error; a block's, from the layers it had built before
    it failed (``entry["partial"]``) compared with the expected description ``want``.
    """
    causes: list[str] = []
    if spec.kind == "metric":
        cause = failure_cause(entry["error"])
        causes = [cause] if cause else []
    elif isinstance(entry.get("partial"), dict) and isinstance(want, dict):
        try:
            causes = structure.differences(entry["partial"], want, spec.free, partial=True)[:1]
        except (TypeError, ValueError, KeyError, IndexError):
            causes = []
    return causes + [f"{spec.function} failed: {entry['error']}"]


def _public_close(got: float, want: float) -> bool:
    return structure.same_value(round(got, 5), round(want, 5))


def _compare(spec: exercises.ExerciseSpec, entry: dict[str, Any], want: Any) -> list[str]:
    if "error" in entry:
        return failure_lines(spec, entry, want)
    if spec.kind == "metric":
        return metric_problems(entry["metric"], want, entry["case"], _public_close)
    return structure.differences(entry["description"], want, spec.free, spec.output_names)


def _fail(title: str, problems: Sequence[str]) -> None:
    __tracebackhide__ = True
    shown = list(problems)[: structure.MAX_PROBLEMS_SHOWN]
    extra = len(problems) - len(shown)
    raise AssertionError("\n".join([title, *(f"  - {p}" for p in shown)]
                                   + ([f"  ... and {extra} more; fix the first ones first."] if extra else [])))


def _print_rows(title: str, description: dict[str, Any]) -> None:
    print(title)
    for number, row in enumerate(description["layers"], start=1):
        print(f"  {number:>2} {row[0]:<19} {str(row[1]):<22} inputs {row[3]}  {row[2] or ''}")
    print(f"  returns the outputs of layers {description['outputs']}")


def _reordered(rows: Sequence[Any], want: Any) -> bool:
    """Whether the summary ``rows`` are the expected ones, every row, in another order."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            comparator(sorted(rows, key=repr), sorted(want, key=repr))
    except (AssertionError, TypeError):
        return False
    return True


def _summaries(spec: exercises.ExerciseSpec, answer: Any, summaries: Sequence[Any]) -> tuple[dict[int, Any], list[str]]:
    """Print each case's ``summary()`` list and compare it with the expected one (the familiar format first).

    Returns the models built, and what the summary comparison found: it only leads when the structural
    comparison, which names causes rather than parameter counts and shapes, finds nothing.
    """
    models, problems = {}, []
    for index, (case, want) in enumerate(zip(spec.cases("public"), summaries), start=1):
        if want is None:
            continue
        try:
            model = exercises.build(spec, answer, case)
        except NotImplementedError:  # not written yet: the student sees exactly that
            raise
        except Exception:  # explained with the case's evidence below, cause first
            continue
        models[index - 1] = model
        rows = summary(model)
        print(f"Case {index} ({_case_text(spec, case)}), layer number and summary:")
        for number, row in enumerate(rows, start=1):
            print(f"  {number} {row}")
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # its "All tests passed!" is not the check's verdict
                comparator(rows, want)
        except AssertionError as error:
            if _reordered(rows, want):
                # The same rows in another order: model.layers follows the order tensors are used in, which a
                # commutative merge's operands change (Add()([b, a])). Which layer feeds which is the
                # structural comparison's to judge; the summary only checks what the layers are.
                continue
            lines = [line.strip()[2:] for line in str(error).splitlines() if line.strip().startswith("- ")]
            problems += [f"{line} (case {index}: {_case_text(spec, case)})" for line in lines]
    return models, problems


def check(exercise: "exercises.ExerciseSpec | dict[str, Any]", answer: Any, expected: Sequence[Any], *, summaries: Sequence[Any] | None = None,
          show: bool = False) -> None:
    """The public check of ``exercise``: compare ``answer`` with ``expected`` case by case.

    ``exercise``: the exercise as the cell defines it. ``expected`` holds one entry per public case: the expected description (blocks, U-Net) or the
    expected metric evidence. ``summaries`` (optional, one per case or ``None``) are the expected
    ``summary()`` lists, printed and compared first. Also checks, at sizes picked at random, that the
    structure does not depend on the input size, and keeps the function's signature.
    """
    __tracebackhide__ = True
    spec = exercises.spec_of(exercise)
    seed = challenge_seed()
    built, summary_problems = _summaries(spec, answer, summaries) if summaries else ({}, [])
    payload = collect(spec, answer, "public", seed, built=built)
    _emit(payload)
    problems = _signature_problems(spec, payload)
    for index, (entry, want) in enumerate(zip(payload["cases"], expected), start=1):
        if show and "description" in entry:
            _print_rows(f"Case {index} ({_case_text(spec, entry['case'])}), your {spec.function}:", entry["description"])
        found = _compare(spec, entry, want)
        problems += [f"{p} (case {index}: {_case_text(spec, entry['case'])})" for p in found]
    if not problems and spec.kind != "metric" and seed is None:  # while grading, the challenge case does this
        # The same settings at other sizes must give the same structure (only shapes may change).
        case = exercises.challenge_case(spec, "public", random.SystemRandom().randrange(2**31))
        entry = _describe_case(spec, answer, dict(case, numbers=False), None)
        found = (_compare(spec, entry, None) if "error" in entry else
                 structure.differences(structure.without_shapes(entry["description"]),
                                       structure.without_shapes(expected[0]), spec.free, spec.output_names))
        problems += [f"{p} (at other sizes: {_case_text(spec, case)})" for p in found]
    problems += _saves_problems(payload)
    if not problems:
        problems = summary_problems
    if problems:
        _fail(f"{spec.function} does not match what the exercise asks for:", problems)
    print("All tests passed!")


def record(exercise: "exercises.ExerciseSpec | dict[str, Any]", answer: Any) -> None:
    """The hidden check of ``exercise``: evidence for the grader, which judges it outside this kernel."""
    __tracebackhide__ = True
    spec = exercises.spec_of(exercise)
    _emit(collect(spec, answer, "hidden", challenge_seed()))
    print(f"Hidden checks for {spec.function} recorded; the grader judges them.")
