"""Does the first explanation a student reads name the mistake a mutant made?

For every caught mistake, the line a student reads first is the public check's (when that check failed),
else the grader's verdict on the hidden check: :attr:`autograder.course.explanations.Failure.first` of the
graded notebook, exactly what the feedback summary, ``make check`` and the mistakes report show.

Whether it names the mistake is decided from the mutant's own record (its operator and key, written when it
was generated), never from the checks' code:

* a changed setting (``arg``, ``call-arg``): the line names the layer's class, the setting, and (where it says
  ``layer N (Class)``) the number the mutated layer has in the expected model;
* a layer removed: the line says a layer of that class is missing; applied twice: that one is extra;
* merged tensors swapped: the line names the merge layer and says the order differs; swapped returns: what
  is returned;
* a rewired tensor: the line names a structural change (what a layer takes, what is returned, a layer
  missing or extra);
* a metric mistake: the line names the step that is wrong (the words listed in :data:`METRIC_WORDS`);
* everything else (a parameter replaced by its default, a negated condition, a block call's argument, a
  declared mistake): the line names a cause — a setting, a structural change or a block call — rather than a
  consequence (an output shape, a parameter count, a failure without its cause).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from benchmarks.mutants.generate import MERGES, Mutant

_CLASS_OF = {function: layer for layer, function in MERGES.items()}
#: metric mutant key -> words of which one must be in the line
METRIC_WORDS: dict[str, tuple[str, ...]] = {
    "no-argmax": ("argmax",), "argmax-axis0": ("argmax",), "argmax-axis1": ("argmax",), "argmax-axis3": ("argmax",),
    "argmax-int64": ("argmax",), "no-reset": ("reset_state",), "reset-ones": ("reset_state",),
    "init-ones": ("start at zeros",), "union-no-minus": ("union",), "mean-all": ("every class",),
    "mean-all-nan": ("every class",), "seen-truth": ("in the truth",), "seen-hit": ("intersection",),
    "smoothed": ("smoothed",), "no-reshape-true": ("flatten",), "no-reshape-pred": ("flatten",),
    "no-cast-true": ("cast", "int"), "assign": ("latest batch",), "reduce-sum": ("sum of the per-class",),
    "per-all-classes": ("every class",), "no-cast-result": ("float",), "name-iou": ("name",),
    "name-dropped": ("name",), "config-no-classes": ("get_config",), "unregistered": ("registered",),
    "classes-public": ("num_classes",),
}
_STRUCTURAL = ("takes", "returns", "is missing", "is extra", "inputs, expected")
_SETTING_LINE = re.compile(r"layer \d+ \(\w+\): (?!output shape)")
_CALL_LINE = re.compile(r"\b\w+ call \d+\b")
_LAYER_REF = re.compile(r"layer (\d+) \((\w+)\)")


@dataclass(frozen=True)
class Target:
    """What a mutant changed, read from its record."""

    change: str                 # setting | missing | extra | order | returns | rewire | metric | cause
    cls: str | None = None      # the layer's class
    occurrence: int | None = None
    setting: str | None = None
    words: tuple[str, ...] = ()


def _metric_key(key: str) -> str:
    return "classes-public" if key.startswith("classes-") else key


def target(m: Mutant) -> Target:
    """The change a mutant made, from its operator and key (``conv_block/Conv2D#1:use_bias=False``)."""
    key = m.key.split("/", 1)[1].rstrip("'")
    site, _, rest = key.partition(":")
    cls, occurrence = None, None
    if "#" in site:
        name, _, number = site.partition("#")
        cls = _CLASS_OF.get(name, name)
        digits = re.match(r"\d+", number)
        occurrence = int(digits.group()) if digits else None
    if m.operator == "arg":
        return Target("setting", cls, occurrence, rest.split("=", 1)[0])
    if m.operator == "call-arg":
        return Target("setting", cls, occurrence, "training")
    if m.operator == "remove":
        return Target("missing", cls, occurrence)
    if m.operator == "duplicate":
        return Target("extra", cls, occurrence)
    if m.operator in ("concat", "merge"):
        return Target("order", cls, occurrence)
    if m.operator == "return":
        return Target("returns")
    if m.operator == "rewire":
        return Target("rewire")
    if m.operator == "metric":
        return Target("metric", words=METRIC_WORDS.get(_metric_key(key), ()))
    if m.operator == "example":
        return Target("cause", words=tuple(w for w in re.findall(r"[a-z_]{5,}", m.description.lower())))
    return Target("cause")


def numbers(descriptions: Iterable[dict[str, Any]], cls: str, occurrence: int, in_source: int = 0) -> set[int]:
    """The numbers the ``occurrence``-th layer of class ``cls`` of the source can have in the models described.

    ``in_source``: how many layers of the class the answer cell makes. A model with more (made by the blocks it
    is built from, before its own layers) is also counted from its first own one.
    """
    found = set()
    for description in descriptions:
        rows = [n for n, row in enumerate(description.get("layers", []), start=1) if row[0] == cls]
        offset = max(0, len(rows) - in_source) if in_source else 0
        for k in {occurrence, occurrence + offset}:
            if 0 < k <= len(rows):
                found.add(rows[k - 1])
    return found


def is_cause(line: str) -> bool:
    """Whether a line names a cause: a setting, a structural change, a block call or a stated requirement."""
    if _SETTING_LINE.search(line) or _CALL_LINE.search(line) or any(word in line for word in _STRUCTURAL):
        return True
    return bool(re.search(r"is an? \w+ layer, expected", line) or "arguments or defaults" in line
                or "should return" in line)


def diagnosed(m: Mutant, line: str | None, built: Iterable[dict[str, Any]] = (), in_source: int = 0) -> bool:
    """Whether ``line`` (the first explanation a student reads) names the change mutant ``m`` made.

    ``built``: descriptions of the mutant's own model (:func:`describe_mutant`), to check a layer's number;
    ``in_source``: how many layers of the mutated class the solution's cell makes.
    """
    if not line:
        return False
    t = target(m)
    if t.change == "setting":
        if not (t.cls and t.cls in line and t.setting and t.setting in line):
            return False
        named = {int(n) for n, c in _LAYER_REF.findall(line) if c == t.cls}
        allowed = numbers(list(built), t.cls, t.occurrence, in_source) if t.occurrence else set()
        return not (named and allowed) or bool(named & allowed)
    if t.change == "missing":
        return bool(t.cls) and t.cls in line and "missing" in line
    if t.change == "extra":
        return bool(t.cls) and t.cls in line and ("extra" in line or "twice" in line)
    if t.change == "order":
        return bool(t.cls) and t.cls in line and "order" in line
    if t.change == "returns":
        return "returns" in line
    if t.change == "rewire":
        return any(word in line for word in _STRUCTURAL) or bool(_CALL_LINE.search(line) and "input" in line)
    if t.change == "metric":
        return any(word in line for word in t.words) if t.words else is_cause(line)
    if t.words:  # a declared mistake: a cause, or the words of its own description
        return is_cause(line) or sum(word in line.lower() for word in t.words) >= 2
    return is_cause(line)


def in_source(solution: str, cls: str) -> int:
    """How many layers of class ``cls`` the solution's cell makes (``Conv2D(``, ``concatenate(``...)."""
    names = [cls] + [function for function, layer in _CLASS_OF.items() if layer == cls]
    return sum(len(re.findall(rf"\b{name}\(", solution)) for name in names)


def describe_mutant(m: Mutant, setup: str, solutions: dict[str, str], spec: Any) -> list[dict[str, Any]]:
    """Descriptions of the mutant's model at every fixed case (what was built before a failure, where it failed)."""
    import contextlib
    import io

    from test_utils import exercises, structure

    namespace: dict[str, Any] = {}
    out = []
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(setup, namespace)  # noqa: S102 - the benchmark's own mutants of the instructor's cells
            for name, code in solutions.items():
                exec(m.code if name == m.exercise else code, namespace)  # noqa: S102
    except Exception:
        return []
    answer = namespace.get(spec.function)
    for case in spec.cases("public") + spec.cases("hidden"):
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                out.append(structure.describe(exercises.build(spec, answer, case)))
        except Exception as error:
            partial = getattr(error, "partial_description", None)
            if partial:
                out.append(partial)
    return out


def first_line(graded: Path, notebook: str, exercise: str) -> str | None:
    """The first explanation a student reads for ``exercise`` in one graded notebook (``None``: none shown)."""
    from autograder.course.explanations import read_failures

    found, _ = read_failures(graded, [notebook])
    cells = found.get(notebook, {})
    failure = cells.get(f"test_{exercise}") or cells.get(f"test_{exercise}_hidden")
    return failure.first if failure else None
