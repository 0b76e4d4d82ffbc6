"""``comparator(learner, instructor)``: compare two ``summary()`` lists and explain differences.

Unlike the helpers this replaces, every layer is compared (a model with missing or extra
layers fails and says which), every field of every layer is compared, and a mismatch always
raises ``AssertionError``. Layers are counted from 1 in messages: layer 1 is
``summary(model)[0]``, normally the ``InputLayer``.
"""
from __future__ import annotations

import difflib
import math
import numbers
import re
from typing import Any, Sequence

from . import _keras, _style

__all__ = ["comparator", "MAX_PROBLEMS_SHOWN"]

#: At most this many problems are listed; shape errors cascade, the first ones matter most.
MAX_PROBLEMS_SHOWN = 12

_CONV_FIELDS = ("padding", "activation", "initializer")
_DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "Conv2D": _CONV_FIELDS,
    "Conv2DTranspose": _CONV_FIELDS,
    "MaxPooling2D": ("pool size",),
    "Dropout": ("rate",),
}
_EXAMPLE = "['Conv2D', (None, 96, 128, 32), 896, 'same', 'relu', 'HeNormal']"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _a(name: str) -> str:
    return "an" if name[:1].lower() in "aeiou" else "a"


def _hint(field: str, expected: Any, class_name: str) -> str:
    if field == "output shape":
        if class_name == "InputLayer":
            return "check the shape passed to Input(...)"
        return "check filters, strides, pool size and padding here and in the layers before"
    if field == "parameters":
        return "check filters and kernel_size"
    if field == "initializer" and isinstance(expected, str):
        return f"did you pass kernel_initializer={_snake(expected)!r}?"
    if field == "pool size":
        return f"did you pass pool_size={expected!r}?"
    if field == "rate":
        return f"did you pass the dropout probability {expected!r} to Dropout?"
    if field in ("padding", "activation"):
        return f"did you pass {field}={expected!r}?"
    return ""


def _same(got: Any, want: Any) -> bool:
    """Equal, treating list and tuple alike and comparing numbers with a float tolerance."""
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    numeric = (numbers.Real,)
    if isinstance(got, numeric) and isinstance(want, numeric) and not isinstance(got, bool) \
            and not isinstance(want, bool):
        return math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-9)
    return bool(got == want)


def _validate(rows: Any, role: str) -> list[Sequence[Any]]:
    if _keras.is_keras_model(rows):
        raise TypeError(f"comparator(): the {role} should be the list that summary(model) returns, got "
                        f"{_keras.describe(rows)}: call summary(model) first.")
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"comparator(): the {role} should be a list of layer descriptions, as summary(model) "
                        f"returns, got {_keras.describe(rows)}.")
    for index, row in enumerate(rows):
        if not (isinstance(row, (list, tuple)) and len(row) >= 3 and isinstance(row[0], str)):
            raise TypeError(f"comparator(): item {index} of the {role} should be a layer description such as "
                            f"{_EXAMPLE}, got {row!r}.")
    return list(rows)


class _Report:
    def __init__(self, learner: list[Sequence[Any]], colour: bool) -> None:
        self.learner = learner
        self.colour = colour
        self.problems: list[str] = []

    def layer(self, index: int, class_name: str) -> str:
        return _style.paint(f"layer {index + 1} ({class_name})", "bold", self.colour)

    def got(self, value: Any) -> str:
        return _style.paint(repr(value), "red", self.colour)

    def want(self, value: Any) -> str:
        return _style.paint(repr(value), "green", self.colour)

    def name(self, class_name: str, style: str) -> str:
        return _style.paint(class_name, style, self.colour)

    def fields(self, index: int, got: Sequence[Any], want: Sequence[Any]) -> None:
        class_name = want[0]
        names = ("output shape", "parameters", *_DETAIL_FIELDS.get(class_name, ()))
        if len(got) != len(want):
            self.problems.append(f"{self.layer(index, class_name)}: the summary has {len(got)} fields, "
                                 f"expected {len(want)} (yours: {self.got(list(got))}, "
                                 f"expected: {self.want(list(want))})")
        for position in range(1, min(len(got), len(want))):
            if _same(got[position], want[position]):
                continue
            field = names[position - 1] if position - 1 < len(names) else f"detail {position - 2}"
            if field == "parameters":
                text = (f"{self.layer(index, class_name)}: has {self.got(got[position])} parameters, "
                        f"expected {self.want(want[position])}")
            else:
                text = (f"{self.layer(index, class_name)}: {field} is {self.got(got[position])}, "
                        f"expected {self.want(want[position])}")
            hint = _hint(field, want[position], class_name)
            self.problems.append(text + (f" — {hint}" if hint else ""))

    def wrong_class(self, index: int, got: str, want: str) -> None:
        layer = _style.paint(f"layer {index + 1}", "bold", self.colour)
        self.problems.append(f"{layer} is {_a(got)} {self.name(got, 'red')} layer, expected {_a(want)} "
                             f"{self.name(want, 'green')} layer — check which layers you use and their order")

    def extra(self, index: int) -> None:
        class_name = self.learner[index][0]
        self.problems.append(f"{self.layer(index, class_name)} is extra: the expected model has no "
                             f"{class_name} there — remove it, or check the condition that adds it")

    def missing(self, after: int, want: Sequence[Any]) -> None:
        where = ("at the start" if after < 0
                 else f"after {self.layer(after, self.learner[after][0])}")
        self.problems.append(f"missing {_a(want[0])} {self.name(want[0], 'green')} layer {where}: "
                             f"expected {self.want(list(want))}")


def _compare_same_length(report: _Report, learner: list[Sequence[Any]],
                         instructor: list[Sequence[Any]]) -> None:
    for index, (got, want) in enumerate(zip(learner, instructor)):
        if got[0] != want[0]:
            report.wrong_class(index, got[0], want[0])
        else:
            report.fields(index, got, want)
    got_classes = [row[0] for row in learner]
    want_classes = [row[0] for row in instructor]
    if got_classes != want_classes and sorted(got_classes) == sorted(want_classes):
        report.problems.append(
            "your model has the expected layers but in a different order; model.layers follows the order in "
            "which tensors are used, so also check the order of the tensors you pass to concatenate/Concatenate")


def _compare_aligned(report: _Report, learner: list[Sequence[Any]], instructor: list[Sequence[Any]]) -> None:
    """Line the layers up by class name (like a diff) to say which are missing or extra."""
    matcher = difflib.SequenceMatcher(None, [row[0] for row in learner], [row[0] for row in instructor],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        paired = min(i2 - i1, j2 - j1) if tag in ("equal", "replace") else 0
        for offset in range(paired):
            if tag == "equal":
                report.fields(i1 + offset, learner[i1 + offset], instructor[j1 + offset])
            else:
                report.wrong_class(i1 + offset, learner[i1 + offset][0], instructor[j1 + offset][0])
        for index in range(i1 + paired, i2):
            report.extra(index)
        for index in range(j1 + paired, j2):
            report.missing(i2 - 1, instructor[index])


def comparator(learner: Any, instructor: Any) -> None:
    """Compare ``summary(model)`` of a student's model with the expected list.

    Prints exactly ``All tests passed!`` when they match. Otherwise raises ``AssertionError``
    listing each difference: the layer (counted from 1) and its class, the field (output shape,
    parameters, padding, activation, initializer, pool size, rate), what was found and what
    was expected, and a hint. A different number of layers always fails and names the missing
    or extra layers. Raises ``TypeError`` when an argument is not a list of layer descriptions.
    """
    __tracebackhide__ = True  # IPython and pytest leave this frame out of the traceback a student reads
    learner_rows = _validate(learner, "first argument (your model's summary)")
    instructor_rows = _validate(instructor, "second argument (the expected summary)")
    colour = _style.colour_enabled()
    report = _Report(learner_rows, colour)
    if len(learner_rows) == len(instructor_rows):
        _compare_same_length(report, learner_rows, instructor_rows)
    else:
        _compare_aligned(report, learner_rows, instructor_rows)
    if not report.problems:
        print("All tests passed!")
        return
    header = "Your model does not match the expected one"
    if len(learner_rows) != len(instructor_rows):
        header += f": it has {len(learner_rows)} layers, expected {len(instructor_rows)}"
    header += " (layers counted from 1; layer 1 is summary(model)[0]):"
    shown = report.problems[:MAX_PROBLEMS_SHOWN]
    lines = [_style.paint(header, "bold", colour), *(f"  - {problem}" for problem in shown)]
    if len(report.problems) > len(shown):
        lines.append(f"  ... and {len(report.problems) - len(shown)} more; fix the first ones first.")
    raise AssertionError("\n".join(lines))
