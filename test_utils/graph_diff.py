"""Compare two model descriptions (:func:`test_utils.structure.describe`) and explain them, cause first.

The layers are paired by their role in the graph, not by their position in ``model.layers``: the model
inputs pair in order, then each expected layer (in order) with the student's layer of the same class that
consumes the same tensors. A layer the student left out passes its input through, so what follows still
pairs; a layer the student added is skipped over. So a reordering, a missing or an extra layer is one
sentence, not a cascade of wrong classes and shapes.

Each difference is one student-readable line, the cause first:

1. a layer of another class where one was expected; a layer fed by other tensors (or the same ones in
   another order, where the order matters: the inputs of a merge whose result does not depend on it, such as
   ``Add`` or ``Multiply``, compare as a set, see :data:`COMMUTATIVE`);
2. a layer missing or extra;
3. a setting of a layer (``layer 2 (Conv2D): use_bias is False, expected True (Keras's default)``);
4. what the model returns;
5. output shapes: consequences, listed only when none of the above explains them (an input's shape is a
   cause, and always listed).

:func:`differences` is the one function that decides the leading sentence of every structural
explanation: the public check, the grader's verdict and everything that quotes them (feedback, reports).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Sequence

from . import _keras, _style, keras_defaults

__all__ = ["differences", "assert_same", "same_value", "Free", "MAX_PROBLEMS_SHOWN", "COMMUTATIVE", "same_inputs"]

#: At most this many differences are listed; the first ones matter most.
MAX_PROBLEMS_SHOWN = 12

#: Merge layers whose result is the same whatever the order of their inputs (a sum, a broadcast product, an
#: element-wise mean, maximum or minimum): ``Add()([a, b])`` and ``Add()([b, a])`` are one function with the same
#: weights, so their inputs compare as a set. Every other layer keeps its inputs' order (``Concatenate``,
#: ``Subtract``, ``Dot``: the order changes the result).
COMMUTATIVE = frozenset({"Add", "Multiply", "Average", "Maximum", "Minimum"})

Free = Iterable[tuple[str, str]]
_ROW_HELP = "[class_name, output_shape, settings, inputs]"
# the order explanations are listed in: causes first, consequences last
_CLASS, _INPUTS, _PRESENCE, _SETTING, _RETURNS, _SHAPE = range(6)


def same_value(got: Any, want: Any) -> bool:
    """Equal, treating lists and tuples alike and numbers with a small float tolerance."""
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(same_value(g, w) for g, w in zip(got, want))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same_value(got[k], want[k]) for k in got)
    if isinstance(got, bool) or isinstance(want, bool):
        return got is want or (isinstance(got, bool) and isinstance(want, bool) and got == want)
    if isinstance(got, numbers.Real) and isinstance(want, numbers.Real):
        return math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-9)
    return bool(got == want)


def same_inputs(class_name: str, got: Sequence[Any], want: Sequence[Any]) -> bool:
    """Whether a layer of ``class_name`` fed by ``got`` computes what one fed by ``want`` does (the references
    in one numbering): the same tensors in the same order, or in any order for a :data:`COMMUTATIVE` merge."""
    got, want = [str(r) for r in got], [str(r) for r in want]
    return got == want or (class_name in COMMUTATIVE and sorted(got) == sorted(want))


def validate(description: Any, role: str) -> dict[str, Any]:
    """``description`` when it has the shape :func:`describe` gives, else ``TypeError`` naming what is wrong."""
    if _keras.is_keras_model(description):
        raise TypeError(f"the {role} should be the data describe(model) returns, got a Keras model: "
                        "call describe(model) first.")
    if not isinstance(description, dict) or not isinstance(description.get("layers"), (list, tuple)) \
            or not isinstance(description.get("outputs"), (list, tuple)):
        raise TypeError(f"the {role} should be a dict with 'layers' and 'outputs', as describe(model) returns, "
                        f"got {_keras.describe(description)}.")
    for index, row in enumerate(description["layers"], start=1):
        if not (isinstance(row, (list, tuple)) and len(row) == 4 and isinstance(row[0], str)
                and isinstance(row[2], dict) and isinstance(row[3], (list, tuple))):
            raise TypeError(f"layer {index} of the {role} should be {_ROW_HELP}, got {row!r}.")
    return description


# ----------------------------------------------------------------------------------------- the graph

def _split(ref: Any) -> tuple[int | None, str]:
    """``3`` -> (3, ""), ``"3:1"`` (second output of layer 3) -> (3, ":1"), anything else -> (None, "")."""
    if isinstance(ref, bool):
        return None, ""
    if isinstance(ref, int):
        return ref, ""
    if isinstance(ref, str):
        head, _, tail = ref.partition(":")
        if head.isdigit():
            return int(head), (f":{tail}" if tail else "")
    return None, ""


class _Graph:
    """One description as a graph: rows by number (from 1), who feeds whom."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.rows = [list(row) for row in description["layers"]]
        self.outputs = list(description["outputs"])
        self.inputs = [n for n, row in enumerate(self.rows, start=1) if row[0] == "InputLayer"]
        self.consumers: dict[int, list[int]] = {}
        for number, row in enumerate(self.rows, start=1):
            for ref in row[3]:
                layer, _ = _split(ref)
                if layer is not None:
                    self.consumers.setdefault(layer, []).append(number)

    def cls(self, number: int) -> str:
        return str(self.rows[number - 1][0])

    def feeds(self, number: int) -> list[str]:
        return [str(ref) for ref in self.rows[number - 1][3]]


class _Alignment:
    """Which student layer plays each expected layer's role.

    Two passes over the expected layers, in order. The first pairs only what the graph shows: a layer of the
    same class fed by the same tensors (possibly through an extra layer), or a layer the student left out
    (what it feeds takes its input directly). The second places what is left: a layer fed by other tensors,
    or missing.

    ``eager``: the other reading of an ambiguous graph. A one-input layer between two expected ones is taken as
    extra even when its class comes again further on (a layer applied twice inside a repeated Conv-BN-ReLU
    pattern), and a layer of another class fed by exactly the expected tensors takes that layer's place (a
    substitute) before the expected layer is called missing. :func:`differences` keeps the reading that
    explains the difference in fewer lines.
    """

    def __init__(self, got: _Graph, want: _Graph, partial: bool = False, eager: bool = False) -> None:
        self.got, self.want, self.partial, self.eager = got, want, partial, eager
        self.pair: dict[int, int] = {}         # expected number -> student number
        self.alias: dict[int, int] = {}        # expected number -> the student layer that carries its output
        self.missing: list[int] = []           # expected numbers nobody plays
        self.extra: set[int] = set()           # student numbers that play no role
        self.used: set[int] = set()
        for w in want.inputs:  # the inputs: the one of the same shape, else the next in order
            free = [g for g in got.inputs if g not in self.used]
            same = [g for g in free if same_value(got.rows[g - 1][1], want.rows[w - 1][1])]
            if same or free:
                self._take(w, (same or free)[0])
        pending = [w for w in range(1, len(want.rows) + 1)
                   if w not in self.pair and w not in self.missing and not self._place(w, final=False)]
        for w in pending:
            if w not in self.pair and w not in self.missing:
                self._place(w, final=True)
        self.extra |= {g for g in range(1, len(got.rows) + 1) if g not in self.used}

    def through(self, refs: Sequence[Any]) -> list[str]:
        """Student references, each followed through the extra layers that take one input (they pass it on)."""
        out = []
        for ref in refs:
            ref, seen = str(ref), 0
            layer, _ = _split(ref)
            while layer in self.extra and len(self.got.feeds(layer)) == 1 and seen < len(self.got.rows):
                ref, seen = self.got.feeds(layer)[0], seen + 1
                layer, _ = _split(ref)
            out.append(ref)
        return out

    def alive(self, w: int, depth: int = 0) -> bool:
        """Whether what stands in for missing layer ``w`` (its input, passed on) reaches a layer that is there.

        A layer left out inside a chain passes its input on; one on a branch whose merge was left out (the
        merge passed on its other input) leads nowhere: a consequence of the merge's absence, not a cause.
        """
        carried = self.alias.get(w)
        if carried is None or depth > len(self.want.rows):
            return False
        for c in self.want.consumers.get(w, []):
            if c in self.pair and str(carried) in self.through(self.got.feeds(self.pair[c])):
                return True
            if c in self.missing and self.alias.get(c) == carried and self.alive(c, depth + 1):
                return True
        return any(_split(ref)[0] == w for ref in self.want.outputs) and str(carried) in self.through(self.got.outputs)

    def _take(self, w: int, g: int) -> None:
        self.pair[w], self.alias[w] = g, g
        self.used.add(g)

    def mapped(self, refs: Sequence[Any]) -> list[str]:
        """Expected input references in the student's numbering (``?`` where no student layer plays it)."""
        out = []
        for ref in refs:
            layer, suffix = _split(ref)
            g = self.alias.get(layer) if layer is not None else None
            out.append("?" if g is None else f"{g}{suffix}")
        return out

    def _free_layers(self, cls: str | None = None) -> list[int]:
        return [g for g in range(1, len(self.got.rows) + 1) if g not in self.used and g not in self.extra
                and self.got.cls(g) != "InputLayer" and (cls is None or self.got.cls(g) == cls)]

    def _place(self, w: int, final: bool) -> bool:
        """Pair or drop expected layer ``w``; ``False`` when the graph does not show it yet (first pass)."""
        cls = self.want.cls(w)
        if cls == "InputLayer":  # an input the student's model does not have
            self.missing.append(w)
            return True
        wanted = self.mapped(self.want.rows[w - 1][3])
        same = self._free_layers(cls)
        for test in (lambda g: same_inputs(cls, self.got.feeds(g), wanted),
                     lambda g: sorted(self.got.feeds(g)) == sorted(wanted)):
            found = sorted((g for g in same if test(g)), key=lambda g: -self._fit(w, g))
            if found and (self._fit(w, found[0]) or not self._skips(w, wanted)):
                self._take(w, found[0])
                return True
        later = {self.want.cls(c) for c in self._downstream(w)}
        for g in same:  # an extra layer in between: the student's layer takes it instead of what it passes on
            extras = self._extras_between(self.got.feeds(g), wanted) or \
                (self._extras_between(self.got.feeds(g), wanted[::-1]) if cls in COMMUTATIVE else set())
            if extras and (self.eager or not any(self.got.cls(e) in later for e in extras)):  # not one needed later
                self.extra |= extras
                self._take(w, g)
                return True
        shared = [g for g in same if set(self.got.feeds(g)) & {x for x in wanted if x != "?"}]
        if shared and len(wanted) > 1:
            self._take(w, shared[0])
            return True
        other = [g for g in self._free_layers() if self.got.feeds(g) == wanted and "?" not in wanted]
        if self.eager:  # a substitute: not of a class an expected layer further on needs
            other = [g for g in other if self.got.cls(g) not in later]
            if other:
                self._take(w, other[0])
                return True
        if self._skips(w, wanted):
            self._miss(w, wanted)
            return True
        if other:  # a layer of another class in its place
            self._take(w, other[0])
            return True
        if not final:
            return False
        if same and not self.partial:  # in its place, fed by something else
            self._take(w, same[0])
            return True
        self._miss(w, wanted)
        return True

    def _extras_between(self, feeds: list[str], wanted: list[str]) -> set[int]:
        """The extra one-input layers that, skipped, turn ``feeds`` into ``wanted`` (empty: none do)."""
        if len(feeds) != len(wanted):
            return set()
        extras = set()
        for got, want in zip(feeds, wanted):
            if got == want:
                continue
            layer, _ = _split(got)
            if layer is None or layer in self.used or self.got.cls(layer) == "InputLayer" \
                    or self.got.feeds(layer) != [want]:
                return set()
            extras.add(layer)
        return extras

    def _miss(self, w: int, wanted: list[str]) -> None:
        self.missing.append(w)
        first, _ = _split(next((x for x in wanted if x != "?"), "?"))
        if first is not None:
            self.alias[w] = first

    def _downstream(self, w: int, depth: int = 8) -> list[int]:
        """The expected layers ``w`` feeds, and theirs, a few steps down."""
        found, frontier = [], [w]
        for _ in range(depth):
            frontier = [c for f in frontier for c in self.want.consumers.get(f, [])]
            found += frontier
        return found

    def _fit(self, w: int, g: int) -> int:
        """How well student layer ``g`` fits expected layer ``w`` beyond its inputs: same settings, same consumers."""
        settings = same_value(dict(self.got.rows[g - 1][2]), dict(self.want.rows[w - 1][2]))
        consumers = sorted(self.got.cls(c) for c in self.got.consumers.get(g, [])) == \
            sorted(self.want.cls(c) for c in self.want.consumers.get(w, []))
        return int(settings) + int(consumers)

    def _skips(self, w: int, wanted: list[str]) -> bool:
        """Whether the student left expected layer ``w`` out: a layer it leads to takes its input directly."""
        known = [x for x in wanted if x != "?"]
        if not known:
            return False
        later = self._downstream(w)
        is_output = any(_split(ref)[0] == w for ref in self.want.outputs)
        direct = any(set(known) & set(self.got.feeds(g)) for c in later for g in self._free_layers(self.want.cls(c)))
        return direct or (not later and is_output and not self._free_layers(self.want.cls(w)))


# ----------------------------------------------------------------------------------------- explaining

def _is_free(free: Sequence[tuple[str, str]], class_name: str, key: str, is_output: bool) -> bool:
    for selector, name in free:
        if name != key:
            continue
        if selector == "*" or selector == class_name or (selector == "output" and is_output):
            return True
    return False


def _tuples(value: Any) -> Any:
    """Lists as tuples: a description read back from JSON shows as the one made in the kernel."""
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    return "none (linear)" if value == "linear" else repr(_tuples(value))


def _a(name: str) -> str:
    return "an" if name[:1].lower() in "aeiou" else "a"


class _Report:
    def __init__(self, got: _Graph, colour: bool) -> None:
        self.graph = got
        self.colour = colour
        self.found: list[tuple[int, int, str]] = []

    def layer(self, number: int, class_name: str | None = None) -> str:
        name = class_name or (self.graph.cls(number) if 0 < number <= len(self.graph.rows) else "?")
        return _style.paint(f"layer {number} ({name})", "bold", self.colour)

    def ref(self, ref: str) -> str:
        layer, suffix = _split(ref)
        if layer is None or not 0 < layer <= len(self.graph.rows):
            return "a layer your model does not have"
        return self.layer(layer) + (f" (output {int(suffix[1:]) + 1})" if suffix else "")

    def refs(self, refs: Sequence[str], style: str) -> str:
        return _style.paint(", ".join(self.ref(r) for r in refs), style, self.colour) if refs else "nothing"

    def name(self, class_name: str, style: str) -> str:
        return _style.paint(class_name, style, self.colour)

    def got(self, value: Any) -> str:
        return _style.paint(_show(value), "red", self.colour)

    def want(self, value: Any) -> str:
        return _style.paint(_show(value), "green", self.colour)

    def add(self, rank: int, number: int, text: str) -> None:
        self.found.append((rank, number, text))

    def lines(self) -> list[str]:
        causes = [f for f in self.found if f[0] != _SHAPE]
        shown = causes if causes else self.found
        return [text for _, _, text in sorted(shown, key=lambda f: (f[0], f[1]))]


def _settings(report: _Report, g: int, got_row: Sequence[Any], want_row: Sequence[Any],
              free: Sequence[tuple[str, str]], is_output: bool) -> None:
    """One line for every setting of the layer that differs (all of them, so the first line names them all)."""
    class_name = str(want_row[0])
    where = report.layer(g, class_name)
    got_settings, want_settings = dict(got_row[2]), dict(want_row[2])
    parts = []
    for key in sorted(set(got_settings) | set(want_settings)):
        if _is_free(free, class_name, key, is_output):
            continue
        if key in got_settings and key in want_settings:
            if not same_value(got_settings[key], want_settings[key]):
                parts.append(f"{key} is {report.got(got_settings[key])}, expected {report.want(want_settings[key])}")
        elif key in got_settings:
            value = got_settings[key]
            if key == "activation":
                parts.append(f"activation is {report.got(value)}, expected none")
            elif key.startswith("call "):
                parts.append(f"called with {key[5:]}={report.got(value)}, expected no {key[5:]} argument (let Keras pass it)")
            else:
                known, default, why = keras_defaults.default(class_name, key, want_settings)
                parts.append(f"{key} is {report.got(value)}, expected {report.want(default)} (Keras's default"
                             f"{': ' + why if why else ''})" if known else
                             f"{key} is {report.got(value)}, expected it left at Keras's default")
        else:
            known, default, _ = keras_defaults.default(class_name, key, got_settings)
            shown = "" if not known else " (none)" if key == "activation" else f" {_show(default)}"
            parts.append(f"{key} is left at Keras's default{shown}, expected {report.want(want_settings[key])}")
    if parts:
        report.add(_SETTING, g, f"{where}: {'; '.join(parts)}")
    if got_row[1] is not None and not same_value(got_row[1], want_row[1]):
        if class_name == "InputLayer":
            report.add(_SETTING, g, f"{where}: the input's shape is {report.got(got_row[1])}, expected {report.want(want_row[1])}")
        else:
            report.add(_SHAPE, g, f"{where}: output shape is {report.got(got_row[1])}, expected {report.want(want_row[1])} "
                                  "(no setting of this layer explains it: check the layers before)")


def _inputs(report: _Report, g: int, got_feeds: list[str], wanted: list[str]) -> None:
    where = report.layer(g)
    if sorted(got_feeds) == sorted(wanted):
        report.add(_INPUTS, g, f"{where} takes {report.refs(got_feeds, 'red')}, in that order; expected "
                               f"{report.refs(wanted, 'green')}: the same tensors, in another order")
    elif len(got_feeds) == len(wanted) == 1:
        report.add(_INPUTS, g, f"{where} takes the output of {report.refs(got_feeds, 'red')}, expected that of "
                               f"{report.refs(wanted, 'green')}")
    else:
        report.add(_INPUTS, g, f"{where} takes {report.refs(got_feeds, 'red')}, expected {report.refs(wanted, 'green')}")


def differences(got: Any, want: Any, free: Free = (), output_names: Sequence[str] | None = None,
                partial: bool = False) -> list[str]:
    """Every way the description ``got`` differs from ``want``, one student-readable line each, causes first.

    ``partial``: ``got`` is what was built before the code failed, so the layers it lacks and what it returns
    are not differences; what it has is compared as usual.
    """
    got = validate(got, "first argument (your model's description)")
    want = validate(want, "expected description")
    free = list(free)
    g_graph, w_graph = _Graph(got), _Graph(want)
    best: list[str] | None = None
    for eager in (False, True):  # the two readings of an ambiguous graph: the one with fewer lines explains it
        found = _explain(_Alignment(g_graph, w_graph, partial, eager), free, output_names, partial)
        if best is None or len(found) < len(best):
            best = found
        if not best:  # the same graph: no reading can say less
            break
    return best or []


def _explain(align: _Alignment, free: Sequence[tuple[str, str]], output_names: Sequence[str] | None,
             partial: bool) -> list[str]:
    """The lines of one alignment, causes first."""
    g_graph, w_graph = align.got, align.want
    report = _Report(g_graph, _style.colour_enabled())
    want_outputs = {_split(ref)[0] for ref in w_graph.outputs}
    for w, g in sorted(align.pair.items(), key=lambda item: item[1]):
        got_row, want_row = g_graph.rows[g - 1], w_graph.rows[w - 1]
        if got_row[0] != want_row[0]:
            report.add(_CLASS, g, f"{_style.paint(f'layer {g}', 'bold', report.colour)} is {_a(got_row[0])} "
                                  f"{report.name(got_row[0], 'red')} layer, expected {_a(want_row[0])} "
                                  f"{report.name(want_row[0], 'green')} layer")
            continue
        wanted, feeds = align.mapped(want_row[3]), align.through(g_graph.feeds(g))
        if want_row[0] != "InputLayer" and not same_inputs(want_row[0], feeds, wanted) \
                and not (partial and "?" in wanted):
            _inputs(report, g, feeds, wanted)
        _settings(report, g, got_row, want_row, free, w in want_outputs)
    for w in align.missing:
        if partial and not any(c in align.pair for c in w_graph.consumers.get(w, [])):
            continue  # not built yet when the code failed
        cls = w_graph.cls(w)
        if cls == "InputLayer":
            report.add(_PRESENCE, 0, f"the model has {len(g_graph.inputs)} inputs, expected {len(w_graph.inputs)}")
            continue
        source = align.mapped(w_graph.rows[w - 1][3][:1])
        where = f"after {report.ref(source[0])}" if source and source[0] != "?" else "in your model"
        after = (_split(source[0])[0] or 0) if source else 0
        dead = not align.alive(w)
        # a layer left out whose place nothing takes (a dead branch) comes after the one that cut it off
        order = after + (0 if not dead else 10**5 if len(w_graph.rows[w - 1][3]) > 1 else 10**6)
        report.add(_PRESENCE, order, f"{_a(cls).capitalize()} {report.name(cls, 'green')} layer is missing {where}: "
                                     f"expected {cls} with "
                                     f"{report.want(keras_defaults.shown_defaults(cls, w_graph.rows[w - 1][2]))}")
    for g in sorted(align.extra):
        cls = g_graph.cls(g)
        if cls == "InputLayer":
            report.add(_PRESENCE, g, f"the model has {len(g_graph.inputs)} inputs, expected {len(w_graph.inputs)}")
            continue
        report.add(_PRESENCE, g, f"{report.layer(g)} is extra: the expected model has no {cls} there — remove it, "
                                 "or check the condition that adds it")
    got_outputs = align.through(g_graph.outputs)
    want_mapped = align.mapped(w_graph.outputs)
    if got_outputs != want_mapped and not partial:
        names = f" ({', '.join(output_names)})" if output_names else ""
        hint = (": the same tensors in another order" if sorted(got_outputs) == sorted(want_mapped)
                else " — check what you return")
        report.add(_RETURNS, len(g_graph.rows), f"it returns {report.refs(got_outputs, 'red')}, expected "
                                                f"{report.refs(want_mapped, 'green')}{names}{hint}")
    return list(dict.fromkeys(report.lines()))


def assert_same(got: Any, want: Any, free: Free = (), output_names: Sequence[str] | None = None,
                title: str = "Your model does not match the expected one") -> None:
    """Raise ``AssertionError`` listing every difference between two descriptions (none: return quietly)."""
    __tracebackhide__ = True  # IPython and pytest leave this frame out of the traceback a student reads
    problems = differences(got, want, free, output_names)
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS_SHOWN]
    lines = [_style.paint(title + " (layers counted from 1, as in the list printed above):", "bold",
                          _style.colour_enabled()), *(f"  - {p}" for p in shown)]
    if len(problems) > len(shown):
        lines.append(f"  ... and {len(problems) - len(shown)} more; fix the first ones first.")
    raise AssertionError("\n".join(lines))
