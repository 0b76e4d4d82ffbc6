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
        return Target("metric", words=METRIC_WORDS.get(key, ()))
    return Target("cause")


def numbers(descriptions: Iterable[dict[str, Any]], cls: str, occurrence: int) -> set[int]:
    """The numbers the ``occurrence``-th layer of class ``cls`` has in the expected descriptions."""
    found = set()
    for description in descriptions:
        rows = [n for n, row in enumerate(description.get("layers", []), start=1) if row[0] == cls]
        if 0 < occurrence <= len(rows):
            found.add(rows[occurrence - 1])
    return found


def is_cause(line: str) -> bool:
    """Whether a line names a cause: a setting, a structural change, a block call or a stated requirement."""
    if _SETTING_LINE.search(line) or _CALL_LINE.search(line) or any(word in line for word in _STRUCTURAL):
        return True
    return bool(re.search(r"is an? \w+ layer, expected", line) or "arguments or defaults" in line
                or "should return" in line)


def diagnosed(m: Mutant, line: str | None, expected: Iterable[dict[str, Any]] = ()) -> bool:
    """Whether ``line`` (the first explanation a student reads) names the change mutant ``m`` made."""
    if not line:
        return False
    t = target(m)
    if t.change == "setting":
        if not (t.cls and t.cls in line and t.setting and t.setting in line):
            return False
        named = {int(n) for n, c in _LAYER_REF.findall(line) if c == t.cls}
        allowed = numbers(list(expected), t.cls, t.occurrence) if t.occurrence else set()
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
        return any(word in line for word in _STRUCTURAL)
    if t.change == "metric":
        return any(word in line for word in t.words) if t.words else is_cause(line)
    return is_cause(line)


def first_line(graded: Path, notebook: str, exercise: str) -> str | None:
    """The first explanation a student reads for ``exercise`` in one graded notebook (``None``: none shown)."""
    from autograder.course.explanations import read_failures

    found, _ = read_failures(graded, [notebook])
    cells = found.get(notebook, {})
    failure = cells.get(f"test_{exercise}") or cells.get(f"test_{exercise}_hidden")
    return failure.first if failure else None


def expected_descriptions(bundles: dict[str, dict[str, Any]], notebook: str, exercise: str) -> list[dict[str, Any]]:
    """The reference's descriptions of the exercise's fixed cases, as the release stored them."""
    from autograder.run.judge.verdict import ReferenceCache

    cache = ReferenceCache(bundles)
    bundle = bundles.get(notebook, {})
    spec = (bundle.get("exercises", {}).get(exercise) or {}).get("spec")
    if not spec:
        return []
    out = []
    for part in ("public", "hidden"):
        for case in spec.get(part, []):
            if case.get("numbers"):
                continue
            key = ReferenceCache.key(exercise, case, 0)
            frozen = bundle.get("frozen", {}).get(key) or cache.memory.get(key)
            if isinstance(frozen, dict) and isinstance(frozen.get("description"), dict):
                out.append(frozen["description"])
    return out
