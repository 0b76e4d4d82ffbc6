"""Mutants of the instructor's answer cells, made by rewriting their syntax trees (``ast`` + ``ast.unparse``).

Nothing here names an assignment or an exercise. The assignments are the folders of ``source/`` whose notebook
declares exercises, the answer cells are read with :mod:`autograder.course.exercise_book`, and the operators
are picked by each exercise's ``kind``:

* ``block``: the layer operators: a layer argument changed, added or removed, a layer application removed or
  duplicated, a mode hard-coded, merged tensors swapped, tensors rewired, a parameter replaced by its default,
  a condition negated, and rewrites that must not change anything (keywords, namespaces, loops, ...);
* ``model``: the layer operators, plus the calls of the functions its ``stand_ins`` name (their arguments and
  which tensors go where), with those functions' parameters read from the solution cells that define them;
* ``metric``: the metric operators (steps of a streaming metric dropped or altered, registration, config);
* every kind: the example submissions the exercise declares (``examples``: alternatives and mistakes).

Whether a mutant really changes what the notebook asks for is decided by :mod:`benchmarks.mutants.oracle`;
the label ``intended`` only records what the rewrite was written as (True: an equivalent rewrite, False: a
mistake, None: either, e.g. a rewire that may hit an alias).

Nothing here imports TensorFlow, so listing the mutants is quick.
"""
from __future__ import annotations

import ast
import copy
import functools
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

REPO = Path(__file__).resolve().parents[2]

# Keras 3 layers: their positional parameters, in order (Keras knowledge, not the course's).
LAYERS: dict[str, tuple[str, ...]] = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
               "activation", "use_bias", "kernel_initializer"),
    "Conv2DTranspose": ("filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
                        "dilation_rate", "activation", "use_bias", "kernel_initializer"),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format"),
    "AveragePooling2D": ("pool_size", "strides", "padding", "data_format"),
    "Dropout": ("rate", "noise_shape", "seed"),
    "UpSampling2D": ("size", "data_format", "interpolation"),
    "LeakyReLU": ("negative_slope",),
    "ReLU": ("max_value", "negative_slope", "threshold"),
    "Activation": ("activation",),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "Concatenate": ("axis",),
    "Add": (),
    "Multiply": (),
    "Subtract": (),
    "Average": (),
    "Maximum": (),
    "Minimum": (),
    "Input": ("shape", "batch_size", "dtype"),
}
# Keras functions called like layers (``keras.layers.concatenate([...])``): their positional parameters.
KERAS_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "concatenate": ("inputs", "axis"), "add": ("inputs",), "multiply": ("inputs",), "subtract": ("inputs",),
    "average": ("inputs",), "maximum": ("inputs",), "minimum": ("inputs",),
}
KERAS = {**LAYERS, **KERAS_FUNCTIONS}
# merge layers and their functional forms; the commutative ones
MERGES = {"Concatenate": "concatenate", "Add": "add", "Multiply": "multiply", "Subtract": "subtract",
          "Average": "average", "Maximum": "maximum", "Minimum": "minimum"}
COMMUTATIVE = {"Add", "Multiply", "Average", "Maximum", "Minimum"}
# positional rewrite: the parameter up to which a layer's arguments can be passed positionally
THROUGH = {"Conv2D": "padding", "Conv2DTranspose": "padding", "MaxPooling2D": "pool_size",
           "AveragePooling2D": "pool_size", "UpSampling2D": "size", "LeakyReLU": "negative_slope", "Dropout": "rate",
           "Activation": "activation", "Concatenate": "axis"}
KERAS_FILL = {"strides": "1"}  # a Keras default the positional rewrite may write out


@dataclass(frozen=True)
class Mutant:
    """One rewritten answer cell."""

    id: str
    assignment: str
    exercise: str  # grade_id of the answer cell
    operator: str
    key: str  # unique and stable across runs
    description: str
    code: str  # the whole answer cell
    intended: bool | None  # True: written as an equivalent rewrite; False: as a mistake; None: either


@dataclass(frozen=True)
class Context:
    """What the operators know of one exercise, all of it read from its notebook."""

    assignment: str
    exercise: str
    kind: str
    meta: dict[str, Any]
    tensors: int  # leading parameters of the graded function that are tensors (a block's inputs)
    defaults: dict[str, str]  # parameter -> default (source) of the graded function
    signatures: dict[str, tuple[str, ...]]  # callee -> positional parameters (Keras, and the stand-ins)
    takes: dict[str, int]  # callee -> how many leading arguments are tensors (Keras functions, stand-ins)
    stand_ins: tuple[str, ...] = ()  # functions the model is built from (``stand_ins``), in the cell
    stand_in_defaults: dict[str, dict[str, str]] = field(default_factory=dict)
    stand_in_returns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # names of a returned tuple

    @property
    def free(self) -> frozenset[tuple[str, str]]:
        """(layer class or "output" or "*", setting) pairs the text does not state."""
        return frozenset((str(a), str(b)) for a, b in self.meta.get("free", []))


Edit = Callable[[ast.Module], None]


class Skip(Exception):
    """The operator does not apply to this tree."""


# ----------------------------------------------------------------------------------------------- tree helpers
def _expr(src: str) -> ast.expr:
    return ast.parse(src, mode="eval").body


def _src(node: ast.AST | None) -> str | None:
    return None if node is None else ast.unparse(node)


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Depth first, in source order (ast.walk is breadth first)."""
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _walk(child)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST | list[ast.stmt]) -> None:
    for parent in _walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                i = next(i for i, v in enumerate(value) if v is old)
                value[i:i + 1] = new if isinstance(new, list) else [new]
                return
    raise Skip("node not found")


def _callee(call: ast.AST) -> str | None:
    if not isinstance(call, ast.Call):
        return None
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _is_layer(name: str | None) -> bool:
    return name in LAYERS and name != "Input"


def _constructions(tree: ast.AST) -> list[ast.Call]:
    """Layer constructions, e.g. ``Conv2D(...)``, and functional ``concatenate(...)`` calls, in source order."""
    return [n for n in _walk(tree) if _is_layer(_callee(n)) or _callee(n) in KERAS_FUNCTIONS]


def _applications(tree: ast.AST) -> list[ast.Call]:
    """Layer applications ``Layer(...)(x)`` and functional ``concatenate([...])``, in source order."""
    return [n for n in _walk(tree) if isinstance(n, ast.Call)
            and (_is_layer(_callee(n.func)) or _callee(n) in KERAS_FUNCTIONS)]


def _label(tree: ast.AST, call: ast.Call) -> str:
    name = _callee(call)
    same = [n for n in _walk(tree) if _callee(n) == name]
    return f"{name}#{next(i for i, n in enumerate(same, 1) if n is call)}"


def _get(call: ast.Call, name: str, sigs: Mapping[str, tuple[str, ...]] = KERAS) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    params = sigs[_callee(call)]
    i = params.index(name) if name in params else len(call.args)
    return call.args[i] if i < len(call.args) else None


def _set(call: ast.Call, name: str, value: ast.expr, sigs: Mapping[str, tuple[str, ...]] = KERAS) -> None:
    for kw in call.keywords:
        if kw.arg == name:
            kw.value = value
            return
    params = sigs[_callee(call)]
    if name in params and params.index(name) < len(call.args):
        call.args[params.index(name)] = value
    else:
        call.keywords.append(ast.keyword(arg=name, value=value))


def _delete(call: ast.Call, name: str, sigs: Mapping[str, tuple[str, ...]] = KERAS) -> None:
    if any(kw.arg == name for kw in call.keywords):
        call.keywords = [kw for kw in call.keywords if kw.arg != name]
        return
    params = sigs[_callee(call)]
    i = params.index(name)
    later = [ast.keyword(arg=params[j], value=a) for j, a in enumerate(call.args) if j > i]
    call.args = call.args[:i]
    call.keywords = later + call.keywords


def _to_keywords(call: ast.Call, sigs: Mapping[str, tuple[str, ...]]) -> None:
    params = sigs[_callee(call)]
    call.keywords = [ast.keyword(arg=params[i], value=a) for i, a in enumerate(call.args)] + call.keywords
    call.args = []


def _to_positional(call: ast.Call, through: str, fill: Mapping[str, str], sigs: Mapping[str, tuple[str, ...]]) -> None:
    """Pass every parameter up to ``through`` positionally, filling absent ones from ``fill``."""
    params = sigs[_callee(call)]
    values = [_get(call, p, sigs) for p in params[:params.index(through) + 1]]
    if values[-1] is None or len(call.args) == len(values):
        raise Skip("nothing to move")
    for i, p in enumerate(params[:len(values)]):
        if values[i] is None:
            if p not in fill:
                raise Skip(f"no default for {p}")
            values[i] = _expr(fill[p])
    call.keywords = [kw for kw in call.keywords if kw.arg not in params[:len(values)]]
    call.args = values


def _function(tree: ast.Module) -> ast.FunctionDef | ast.ClassDef:
    return next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)))


def _unroll(tree: ast.Module) -> None:
    """``for _ in range(k): body`` -> body k times; statements of copy i are marked ``_copy = i``."""
    loops = [n for n in _walk(tree) if isinstance(n, ast.For) and _callee(n.iter) == "range"
             and len(n.iter.args) == 1 and isinstance(n.iter.args[0], ast.Constant)]
    if not loops:
        raise Skip("no loop")
    for loop in loops:
        copies = []
        for i in range(loop.iter.args[0].value):
            body = copy.deepcopy(loop.body)
            for stmt in body:
                for n in _walk(stmt):
                    n._copy = i
            copies += body
        _replace(tree, loop, copies)


def _roll(tree: ast.Module) -> None:
    """``t = L(...)(a); t = L(...)(t)`` with the same layer -> ``t = a; for _ in range(2): t = L(...)(t)``."""
    for parent in _walk(tree):
        body = getattr(parent, "body", None)
        if not isinstance(body, list):
            continue
        for i, (s1, s2) in enumerate(zip(body, body[1:])):
            if not all(isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
                       and isinstance(s.value, ast.Call) and _callee(s.value.func) in LAYERS for s in (s1, s2)):
                continue
            t = s1.targets[0].id
            if s2.targets[0].id != t or ast.dump(s1.value.func) != ast.dump(s2.value.func):
                continue
            if len(s2.value.args) != 1 or _src(s2.value.args[0]) != t:
                continue
            start = ast.parse(f"{t} = {_src(s1.value.args[0])}").body[0]
            loop = ast.parse(f"for _ in range(2):\n    {ast.unparse(s2)}").body[0]
            body[i:i + 2] = [start, loop]
            return
    raise Skip("no two equal layers in a row")


def _namespace(tree: ast.Module, prefix: str) -> None:
    """Layers and ``tf.keras.*`` through ``prefix`` (``tf.keras`` or ``keras``; the latter adds ``import keras``)."""
    for n in list(_walk(tree)):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in KERAS:
            n.func = _expr(f"{prefix}.{'' if n.func.id == 'Input' else 'layers.'}{n.func.id}")
        elif isinstance(n, ast.Attribute) and prefix == "keras" and _src(n.value) == "tf.keras":
            _replace(tree, n, _expr(f"keras.{n.attr}"))
    if prefix == "keras":
        tree.body.insert(0, ast.Import(names=[ast.alias(name="keras")]))


def _sub_expr(tree: ast.AST, old: str, new: str) -> None:
    """Replace every expression that unparses to ``old`` (Skip when there is none)."""
    hits = [n for n in _walk(tree) if isinstance(n, ast.expr) and ast.unparse(n) == old]
    if not hits:
        raise Skip(f"{old!r} is not in the solution")
    for n in hits:
        _replace(tree, n, _expr(new))


def _sub_stmt(tree: ast.AST, old: str, new: str) -> None:
    hits = [n for n in _walk(tree) if isinstance(n, ast.stmt) and ast.unparse(n) == old]
    if not hits:
        raise Skip(f"{old!r} is not in the solution")
    for n in hits:
        _replace(tree, n, ast.parse(new).body)


def _number(src: str | None) -> int | float | None:
    """The value of a numeric literal's source (not a boolean), else None."""
    try:
        value = ast.literal_eval(src) if src is not None else None
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _bigger(value: int | float) -> str:
    """Another value of the same kind: ints + 1, floats + 0.2."""
    return str(value + 1) if isinstance(value, int) else str(round(value + 0.2, 2))


# ------------------------------------------------------------------------------------ layer argument values
# (new source or None to delete, intended) per layer parameter and current value (None: absent).
# ``once``: equivalent rewrites are offered at the first site of each layer only, to keep them a minority.
def _alternatives(layer: str, param: str, cur: str | None, once: bool, defaults: Mapping[str, str],
                  free: frozenset[tuple[str, str]] = frozenset()) -> list[tuple[str | None, bool | None]]:
    W, E = False, True
    # a setting the exercise frees (its "free" list) may take any value; one the text leaves at the default may not
    freed: bool | None = True if {(layer, param), ("*", param)} & free else None if ("output", param) in free else W
    alts: list[tuple[str | None, bool | None]] = []
    conv = layer in ("Conv2D", "Conv2DTranspose")
    if conv and param == "filters":
        if cur is not None and cur.isidentifier():  # a parameter: doubled, or its default hard-coded
            alts = [(f"{cur} * 2", W), (defaults.get(cur) or f"{cur} + 1", W)]
        elif isinstance(_number(cur), int):
            alts = [(_bigger(_number(cur)), W)]
    elif conv and param == "kernel_size":
        k = _number(cur)
        if isinstance(k, int):
            alts = ([("2", W), ("5", W)] if k == 3 else [("3", W)] if k == 1 else [(str(k + 2), W)]) \
                + [(f"({k}, {k})", E)] * once
    elif conv and param == "strides":
        alts = {None: [("2", W)] + [("1", E)] * (once and layer == "Conv2D"), "2": [("1", W), ("(2, 2)", E)]}.get(cur, [])
    elif conv and param == "padding":
        alts = {"'same'": [("'valid'", W)], None: [("'same'", freed or None)]}.get(cur, [])  # 1x1: the text decides
    elif (conv and param == "activation") or (layer == "Activation" and param == "activation"):
        name = cur[1:-1] if cur and cur[0] in "'\"" else None
        if name:
            others = {"relu": ["'sigmoid'"], "sigmoid": ["'softmax'", "'relu'"]}.get(name, ["'relu'"])
            alts = [(None, W)] * conv + [(o, W) for o in others] + [(f"tf.keras.activations.{name}", E)] * once
        elif cur is None and conv:
            alts = [("'relu'", W), ("'softmax'", W)] + [("'linear'", E)] * once
    elif conv and param == "kernel_initializer":
        # an initializer the answer leaves out: equivalent where the exercise frees it
        alts = {"'he_normal'": [("'glorot_uniform'", W), (None, W)]
                + [("tf.keras.initializers.HeNormal()", E)] * once,
                None: [("'he_normal'", freed)] * once}.get(cur, [])
    elif conv and param == "dilation_rate":
        alts = [("2", W)] + [("(1, 1)", E)] * once if cur is None else []
    elif conv and param == "use_bias":
        alts = {None: [("False", W)], "False": [("True", W), (None, W)]}.get(cur, [])
    elif layer == "Conv2D" and param == "groups":
        alts = [("1", E)] * once if cur is None else []
    elif layer in ("MaxPooling2D", "AveragePooling2D") and param == "pool_size":
        alts = [("(3, 3)", W), ("(2, 1)", W)] + [("2", E)] * once if cur in ("(2, 2)", None) else []
    elif layer in ("MaxPooling2D", "AveragePooling2D") and param == "strides":
        alts = [("1", W)] + [("2", E)] * once if cur is None else []
    elif layer == "Dropout" and param == "rate":
        if cur is not None and cur.isidentifier():
            alts = [("0.5", W), (f"{cur} / 2", W)]
        elif _number(cur) is not None:
            alts = [(_bigger(_number(cur)), W)]
    elif layer == "UpSampling2D" and param == "size":
        alts = ([("(3, 3)", W), ("(2, 1)", W)] + [("(2, 2)" if cur == "2" else "2", E)] * once
                if cur in ("(2, 2)", "2") else [])
    elif layer == "UpSampling2D" and param == "interpolation":
        alts = [("'bilinear'", W)] + [("'nearest'", E)] * once if cur is None else []
    elif layer == "LeakyReLU" and param == "negative_slope":
        if _number(cur) is not None:
            alts = [(v, W) for v in ("0.3", "0.2", "0.01") if v != cur] + [(None, W)]
    elif layer == "BatchNormalization" and param == "axis":
        alts = [("1", W)] + [("3", E)] * once if cur is None else []
    elif layer == "BatchNormalization" and param == "epsilon":
        alts = [("0.1", W)] if cur is None else []
    elif layer == "BatchNormalization" and param == "center":
        alts = [("False", W)] if cur is None else []
    elif layer in ("concatenate", "Concatenate") and param == "axis":
        alts = {"3": [("1", W), ("2", W), ("-1", E)], "-1": [("1", W), ("2", W), ("3", E)],
                None: [("1", W)] + [("3", E)] * once}.get(cur, [])
    return alts


def _describe_arg(site: str, param: str, cur: str | None, new: str | None) -> str:
    if cur is None:
        return f"{site}: {param}={new} added"
    if new is None:
        return f"{site}: {param}={cur} removed"
    return f"{site}: {param} {cur} -> {new}"


Candidate = tuple[str, str, str, "bool | None", str, Edit]  # operator, key, description, intended, base, edit


def _site_edit(base: str, finder: Callable[[ast.Module], list[Any]], index: int,
               change: Callable[[ast.Module, Any], None]) -> tuple[str, Edit]:
    def edit(tree: ast.Module) -> None:
        change(tree, finder(tree)[index])
    return base, edit


def _bases(code: str) -> dict[str, Callable[[], ast.Module]]:
    def unrolled() -> ast.Module:
        tree = ast.parse(code)
        _unroll(tree)
        return tree
    return {"": lambda: ast.parse(code), "unrolled": unrolled}


# ------------------------------------------------------------------------------------------ layer operators
def _op_arguments(code: str, ctx: Context) -> Iterator[Candidate]:
    """Every argument of every layer construction (and of functional concatenate) changed, added or removed."""
    for base, make in _bases(code).items():
        try:
            tree = make()
        except Skip:
            continue
        calls = _constructions(tree)
        seen_layers: set[str] = set()
        for index, call in enumerate(calls):
            if base == "unrolled" and getattr(call, "_copy", 0) != 1:
                continue  # the unrolled form mutates only the second step of the loop
            layer = _callee(call)
            once = base == "" and layer not in seen_layers
            seen_layers.add(layer)
            site = _label(tree, call) + (" (second step of the loop)" if base else "")
            for param in KERAS[layer]:
                cur = _src(_get(call, param))
                alts = _alternatives(layer, param, cur, once, ctx.defaults, ctx.free)
                if not once:  # later sites of a layer, and the unrolled form: the first mistake of each kind
                    alts = [a for a in alts if a[1] is False][:1]
                for new, intended in alts:
                    def change(tree: ast.Module, call: ast.Call, param: str = param, new: str | None = new) -> None:
                        _delete(call, param) if new is None else _set(call, param, _expr(new))
                    key = f"{site.split()[0]}{'@2' if base else ''}:{param}={new if new is not None else '-'}"
                    yield ("arg", key, _describe_arg(site, param, cur, new), intended,
                           *_site_edit(base, _constructions, index, change))


def _op_call_arguments(code: str, ctx: Context) -> Iterator[Candidate]:
    """``training=`` passed when the layer is applied (Keras then ignores the mode it is called in)."""
    tree = ast.parse(code)
    for index, app in enumerate(_applications(tree)):
        layer = _callee(app.func) if isinstance(app.func, ast.Call) else None
        for value in {"BatchNormalization": ("True", "False"), "Dropout": ("True",)}.get(layer, ()):
            def change(tree: ast.Module, app: ast.Call, value: str = value) -> None:
                app.keywords.append(ast.keyword(arg="training", value=_expr(value)))
            site = _label(tree, app.func)
            yield ("call-arg", f"{site}:call(training={value})", f"{site} applied with training={value}", False,
                   *_site_edit("", _applications, index, change))


def _merged(app: ast.Call) -> bool:
    """A merge: ``concatenate([...])`` or ``Add()([...])``, applied to a list of tensors."""
    return bool(app.args) and isinstance(app.args[0], (ast.List, ast.Tuple))


def _op_remove_duplicate(code: str, ctx: Context) -> Iterator[Candidate]:
    """Each layer application removed (its input passed on; a merge passes its first tensor), or applied twice."""
    tree = ast.parse(code)
    for index, app in enumerate(_applications(tree)):
        functional = _callee(app) in KERAS_FUNCTIONS
        merge = _merged(app)
        site = _label(tree, app if functional else app.func)

        def remove(tree: ast.Module, app: ast.Call, merge: bool = merge) -> None:
            _replace(tree, app, app.args[0].elts[0] if merge else app.args[0])
        yield "remove", f"{site}:removed", f"{site} not applied", False, *_site_edit("", _applications, index, remove)
        if not functional and not merge:
            def duplicate(tree: ast.Module, app: ast.Call) -> None:
                app.args[0] = ast.Call(func=copy.deepcopy(app.func), args=[app.args[0]], keywords=[])
            yield ("duplicate", f"{site}:twice", f"{site} applied twice in a row", False,
                   *_site_edit("", _applications, index, duplicate))


def _merges(tree: ast.Module) -> list[ast.Call]:
    """Functional merges ``concatenate([...])`` and applied merge layers ``Add()([...])``, in source order."""
    return [n for n in _walk(tree) if isinstance(n, ast.Call) and _merged(n)
            and (_callee(n) in KERAS_FUNCTIONS or isinstance(n.func, ast.Call) and _callee(n.func) in MERGES)]


def _op_merge(code: str, ctx: Context) -> Iterator[Candidate]:
    """Merged tensors in the other order; the layer written as its function or the function as its layer."""
    tree = ast.parse(code)
    for index, call in enumerate(_merges(tree)):
        functional = _callee(call) in KERAS_FUNCTIONS
        layer = next(k for k, v in MERGES.items() if v == _callee(call)) if functional else _callee(call.func)
        site = _label(tree, call if functional else call.func)
        lst = _src(call.args[0])

        def swap(tree: ast.Module, call: ast.Call) -> None:
            call.args[0].elts.reverse()
        if len(call.args[0].elts) > 1:
            # an equivalent rewrite where the merge commutes (Add, Multiply: the same function, the same weights),
            # a mistake where the order changes the result (Concatenate, Subtract)
            commutes = layer in COMMUTATIVE
            yield ("concat" if layer == "Concatenate" else "merge", f"{site}:swapped",
                   f"{site.split('#')[0]} {lst} in the other order"
                   + (" (a commutative merge: the same function)" if commutes else ""),
                   commutes, *_site_edit("", _merges, index, swap))
        if functional:
            def as_layer(tree: ast.Module, call: ast.Call, layer: str = layer) -> None:
                axis = _get(call, "axis") if layer == "Concatenate" else None
                _replace(tree, call, ast.Call(func=ast.Call(func=_expr(f"tf.keras.layers.{layer}"), args=[],
                                                             keywords=[ast.keyword("axis", axis)] if axis else []),
                                              args=[call.args[0]], keywords=[]))
            yield ("rewrite", f"{site}:layer",
                   f"{_callee(call)}(...) written as tf.keras.layers.{layer}({'axis=...' * (layer == 'Concatenate')})([...])",
                   True, *_site_edit("", _merges, index, as_layer))
        else:
            def as_function(tree: ast.Module, call: ast.Call, layer: str = layer) -> None:
                keywords = [kw for kw in call.func.keywords if kw.arg == "axis"]
                args = call.func.args[:1] if layer == "Concatenate" else []
                _replace(tree, call, ast.Call(func=_expr(f"tf.keras.layers.{MERGES[layer]}"), args=[call.args[0]],
                                              keywords=[ast.keyword("axis", a) for a in args] + keywords))
            yield ("rewrite", f"{site}:function", f"{layer}()([...]) written as tf.keras.layers.{MERGES[layer]}([...])",
                   True, *_site_edit("", _merges, index, as_function))


def _returns(tree: ast.Module) -> list[ast.Return]:
    return [n for n in _walk(tree) if isinstance(n, ast.Return) and isinstance(n.value, ast.Tuple)]


def _op_return(code: str, ctx: Context) -> Iterator[Candidate]:
    tree = ast.parse(code)
    for index, ret in enumerate(_returns(tree)):
        def swap(tree: ast.Module, ret: ast.Return) -> None:
            ret.value.elts.reverse()
        yield "return", "return:swapped", f"returns ({', '.join(reversed([_src(e) for e in ret.value.elts]))})", False, \
            *_site_edit("", _returns, index, swap)


def _tensor_names(fn: ast.FunctionDef, ctx: Context) -> dict[str, str]:
    """Names that hold tensors (or block results) -> what made them, in order of definition."""
    kinds = {a.arg: "tensor" for a in fn.args.args[:ctx.tensors]}
    for n in _walk(fn):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            v = n.value
            kind = ("block:" + _callee(v) if _callee(v) in ctx.stand_ins else
                    "tensor" if isinstance(v, ast.IfExp) or _callee(v) in ("Input", *KERAS_FUNCTIONS)
                    or isinstance(v, ast.Call) and _callee(v.func) in LAYERS or isinstance(v, ast.Name) and v.id in kinds
                    else None)
            if kind:
                kinds.setdefault(n.targets[0].id, kinds.get(v.id, kind) if isinstance(v, ast.Name) else kind)
    return kinds


def _tensor_uses(tree: ast.Module, ctx: Context) -> list[ast.Name]:
    """Names read where a tensor goes in: layer inputs, merged tensors, aliases, block inputs, model outputs,
    a returned tensor."""
    fn = _function(tree)
    kinds = _tensor_names(fn, ctx)
    uses: list[ast.Name] = []
    for n in _walk(fn):
        slots: list[ast.AST] = []
        if isinstance(n, ast.Call) and (isinstance(n.func, ast.Call) or _callee(n) in ctx.takes):
            slots = list(n.args[:1] if isinstance(n.func, ast.Call) else n.args[:ctx.takes[_callee(n)]])
            slots = [e for s in slots for e in (s.elts if isinstance(s, (ast.List, ast.Tuple)) else [s])]
        elif _callee(n) == "Model":
            slots = [kw.value for kw in n.keywords if kw.arg == "outputs"] + n.args[1:2]
        elif isinstance(n, ast.Assign) and isinstance(n.value, ast.Name):
            slots = [n.value]
        elif isinstance(n, ast.IfExp):
            slots = [n.orelse]
        elif isinstance(n, ast.Return) and isinstance(n.value, ast.Name):
            slots = [n.value]
        uses += [s for s in slots if isinstance(s, ast.Name) and s.id in kinds]
    return uses


def _op_rewire(code: str, ctx: Context) -> Iterator[Candidate]:
    """A tensor taken from another variable of the same kind defined before it (at most two per site)."""
    tree = ast.parse(code)
    fn = _function(tree)
    if not isinstance(fn, ast.FunctionDef):
        return
    kinds = _tensor_names(fn, ctx)
    defined = {a.arg: 0 for a in fn.args.args}
    for n in _walk(fn):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            defined.setdefault(n.targets[0].id, n.lineno)
    for index, use in enumerate(_tensor_uses(tree, ctx)):
        before = [n for n in kinds if defined[n] < use.lineno and kinds[n] == kinds[use.id] and n != use.id]
        for other in before[-1:]:
            def change(tree: ast.Module, use: ast.Name, other: str = other) -> None:
                use.id = other
            yield ("rewire", f"use#{index + 1}:{use.id}->{other}", f"{other} used instead of {use.id} "
                   f"(occurrence {index + 1} of a tensor)", None,
                   *_site_edit("", functools.partial(_tensor_uses, ctx=ctx), index, change))
    # an alias taken one statement too early (e.g. the skip connection before the dropout)
    for i, stmt in enumerate(fn.body):
        if i and isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and isinstance(fn.body[i - 1], ast.If):
            def move(tree: ast.Module, i: int = i) -> None:
                body = _function(tree).body
                body[i - 1], body[i] = body[i], body[i - 1]
            yield ("rewire", f"stmt#{i}:earlier", f"`{ast.unparse(stmt)}` moved before `{ast.unparse(fn.body[i - 1].test)}` "
                   "block", False, "", move)


def _op_param_default(code: str, ctx: Context) -> Iterator[Candidate]:
    """A parameter replaced by its default value inside the body: everywhere, and at each of up to 4 uses."""
    tree = ast.parse(code)
    fn = _function(tree)
    if not isinstance(fn, ast.FunctionDef):
        return
    args = fn.args.args
    defaults = dict(zip([a.arg for a in args[len(args) - len(fn.args.defaults):]], fn.args.defaults))
    for param, default in defaults.items():
        if default is None or isinstance(default, ast.Constant) and default.value is None:
            continue

        def uses(tree: ast.Module, param: str = param) -> list[ast.Name]:
            return [n for n in _walk(_function(tree)) if isinstance(n, ast.Name) and n.id == param
                    and isinstance(n.ctx, ast.Load)]
        count = len(uses(tree))
        value = _src(default)

        def everywhere(tree: ast.Module, uses: Callable = uses, value: str = value) -> None:
            for n in uses(tree):
                _replace(tree, n, _expr(value))
        if count:
            yield ("param-default", f"{param}->{value}", f"{param} replaced by its default {value} everywhere in the body",
                   False, "", everywhere)
        if 2 <= count <= 4:
            for i in range(count):
                def one(tree: ast.Module, n: ast.Name, value: str = value) -> None:
                    _replace(tree, n, _expr(value))
                yield ("param-default", f"{param}#{i + 1}->{value}", f"use {i + 1} of {param} replaced by {value}",
                       False, *_site_edit("", uses, i, one))


def _conditions(tree: ast.Module) -> list[ast.AST]:
    return [n for n in _walk(tree) if isinstance(n, (ast.If, ast.IfExp))]


def _op_conditions(code: str, ctx: Context) -> Iterator[Candidate]:
    tree = ast.parse(code)
    for index, node in enumerate(_conditions(tree)):
        test = _src(node.test)

        def negate(tree: ast.Module, node: ast.AST) -> None:
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        yield "condition", f"if#{index + 1}:negated", f"condition `{test}` negated", False, \
            *_site_edit("", _conditions, index, negate)
        if isinstance(node.test, ast.Compare) and isinstance(node.test.ops[0], ast.Gt):
            def gte(tree: ast.Module, node: ast.AST) -> None:
                node.test.ops = [ast.GtE()]
            yield "condition", f"if#{index + 1}:>=", f"condition `{test}` written with >= (Dropout(0) added)", False, \
                *_site_edit("", _conditions, index, gte)


def _op_rewrites(code: str, ctx: Context) -> Iterator[Candidate]:
    """Equivalent rewrites of the whole cell."""
    sigs = ctx.signatures

    def keywords(tree: ast.Module) -> None:
        calls = [c for c in _walk(tree) if _callee(c) in sigs and c.args]
        if not calls:
            raise Skip("no positional arguments")
        for c in calls:
            _to_keywords(c, sigs)

    def positional(tree: ast.Module) -> None:
        moved = 0
        for c in _walk(tree):
            name = _callee(c)
            through = THROUGH.get(name) or (sigs[name][-1] if name in ctx.stand_ins and sigs[name] else None)
            try:
                if through:
                    _to_positional(c, through, {**KERAS_FILL, **ctx.stand_in_defaults.get(name, {})}, sigs)
                    moved += 1
            except Skip:
                pass
        if not moved:
            raise Skip("nothing to move")

    def loop(tree: ast.Module) -> None:
        (_unroll if any(isinstance(n, ast.For) for n in _walk(tree)) else _roll)(tree)

    yield "rewrite", "rewrite:keywords", "every argument passed by keyword", True, "", keywords
    yield "rewrite", "rewrite:positional", "arguments passed positionally where possible (strides=1 filled in)", True, "", positional
    yield "rewrite", "rewrite:tf.keras", "layers written as tf.keras.layers.X", True, "", lambda t: _namespace(t, "tf.keras")
    yield "rewrite", "rewrite:keras", "import keras; layers written as keras.layers.X", True, "", lambda t: _namespace(t, "keras")
    yield "rewrite", "rewrite:loop", "loop unrolled, or two equal layers in a row written as a loop", True, "", loop


def _op_forms(code: str, ctx: Context) -> Iterator[Candidate]:
    """Equivalent spellings: ``p * k`` as ``k * p``, ``Model`` and ``Input`` with their arguments passed the other way."""
    fn = _function(ast.parse(code))
    params = {a.arg for a in fn.args.args} if isinstance(fn, ast.FunctionDef) else set()

    def commute(tree: ast.Module) -> None:
        hits = [n for n in _walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)
                and isinstance(n.left, ast.Name) and n.left.id in params and isinstance(n.right, ast.Constant)]
        if not hits:
            raise Skip("no product of a parameter")
        for n in hits:
            n.left, n.right = n.right, n.left

    def model_positional(tree: ast.Module) -> None:
        calls = [c for c in _walk(tree) if _callee(c) == "Model" and not c.args
                 and [kw.arg for kw in c.keywords] == ["inputs", "outputs"]]
        if not calls:
            raise Skip("no Model(inputs=..., outputs=...)")
        for call in calls:
            call.args = [kw.value for kw in call.keywords]
            call.keywords = []

    def input_keyword(tree: ast.Module) -> None:
        calls = [c for c in _walk(tree) if _callee(c) == "Input" and c.args]
        if not calls:
            raise Skip("no Input(shape)")
        for call in calls:
            _to_keywords(call, KERAS)

    yield "rewrite", "rewrite:commute", "parameter * k written as k * parameter", True, "", commute
    yield "rewrite", "rewrite:model-positional", "tf.keras.Model(inputs, outputs)", True, "", model_positional
    yield "rewrite", "rewrite:input-shape", "Input(shape=...)", True, "", input_keyword


# --------------------------------------------------------------------------- model: calls of the stand-ins
def _blocks(tree: ast.Module, ctx: Context) -> list[ast.Call]:
    return [n for n in _walk(tree) if _callee(n) in ctx.stand_ins]


def _value_alternatives(cur: str | None, default: str | None, elsewhere: list[str]) -> list[str | None]:
    """Wrong values of a block's setting: scaled when it is computed from a parameter, another constant,
    the default (the argument removed), the other boolean, or a value other calls pass."""
    try:
        node = _expr(cur) if cur is not None else None
    except SyntaxError:
        return []
    if isinstance(node, ast.Name):
        return [f"{cur} * 2"]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for name, k in ((node.left, node.right), (node.right, node.left)):
            if isinstance(name, ast.Name) and isinstance(k, ast.Constant) and isinstance(k.value, int):
                return [f"{name.id} * {2 * k.value}"]
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return [None] if default is not None and default != cur else [str(not node.value)]
    if _number(cur) is not None:
        return [_bigger(_number(cur)), None]
    if cur is None and default is not None:
        if default in ("True", "False"):
            return [str(default == "False")]
        other = [v for v in elsewhere if v != default]
        if other:
            return [other[0]]
        if _number(default) is not None:
            return [_bigger(_number(default))]
    return []


def _op_stand_ins(code: str, ctx: Context) -> Iterator[Candidate]:
    """How a model connects the blocks it is built from: their arguments, which tensors go where, unpacking."""
    sigs = ctx.signatures
    tree = ast.parse(code)
    targets = {id(s.value): s.targets[0].id for s in _walk(tree)
               if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)}
    calls = _blocks(tree, ctx)
    made = [(targets[id(c)], _callee(c), c.lineno) for c in calls if id(c) in targets]  # block results, in order
    made_by: dict[str, str] = {}
    for var, block, _ in made:
        made_by.setdefault(var, block)
    for index, call in enumerate(calls):
        block, name = _callee(call), targets.get(id(call), "?")
        params, takes = sigs[block], ctx.takes[block]
        changes: list[tuple[str, str | None, bool | None]] = []  # (param, new, intended)
        for param in params[takes:]:
            cur = _src(_get(call, param, sigs))
            elsewhere = [v for c in calls if _callee(c) == block and c is not call
                         for v in [_src(_get(c, param, sigs))] if v is not None and _number(v) is not None]
            for new in _value_alternatives(cur, ctx.stand_in_defaults[block].get(param), elsewhere):
                if not (new is None and cur is None):
                    changes.append((param, new, False))
        for slot, arg in zip(params[:takes], call.args[:takes]):  # the tensors: another item, or a neighbour's
            base = arg.value.id if isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name) else \
                arg.id if isinstance(arg, ast.Name) else None
            if base not in made_by:
                continue
            # the results of the same block made before this call, in order
            same = [var for var, made_block, line in made if made_block == made_by[base] and line < call.lineno]
            if base not in same:
                continue
            alts: list[tuple[str, bool | None]] = []
            if isinstance(arg, ast.Subscript) and isinstance(arg.slice, ast.Constant):  # another returned tensor
                size = len(ctx.stand_in_returns.get(made_by[base], ())) or 2
                alts += [(f"{base}[{j}]", None) for j in range(size) if j != arg.slice.value]
            i = same.index(base)  # a neighbour's: the block made before it (or after it, for the first)
            neighbour = same[i - 1] if i > 0 else same[1] if len(same) > 1 else None
            if neighbour:
                alts.append((_src(arg).replace(base, neighbour, 1), False))
            changes += [(slot, a, intended) for a, intended in alts]
        for param, new, intended in changes:
            def change(tree: ast.Module, call: ast.Call, param: str = param, new: str | None = new) -> None:
                _delete(call, param, sigs) if new is None else _set(call, param, _expr(new), sigs)
            cur = _src(_get(call, param, sigs))
            yield ("block-arg", f"{name}:{param}={new if new is not None else '-'}",
                   _describe_arg(f"{name} = {block}(...)", param, cur, new), intended,
                   *_site_edit("", functools.partial(_blocks, ctx=ctx), index, change))

    def unpack(tree: ast.Module) -> None:
        fn = _function(tree)
        done = 0
        for stmt in fn.body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                    and ctx.stand_in_returns.get(_callee(stmt.value) or "")):
                continue
            name, items = stmt.targets[0].id, ctx.stand_in_returns[_callee(stmt.value)]
            reads = [n for n in _walk(fn) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
            items_read = [n for n in _walk(fn) if isinstance(n, ast.Subscript) and _src(n.value) == name
                          and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, int)]
            if len(reads) != len(items_read):
                continue  # the result is also used whole
            stmt.targets = [ast.Tuple([ast.Name(f"{name}_{item}", ast.Store()) for item in items], ast.Store())]
            for n in items_read:
                _replace(tree, n, ast.Name(f"{name}_{items[n.slice.value]}", ast.Load()))
            done += 1
        if not done:
            raise Skip("no block result to unpack")

    yield "rewrite", "rewrite:unpack", "block results unpacked into one name per returned tensor", True, "", unpack


# ------------------------------------------------------------------------------------------ metric operators
# Mistakes and rewrites of a streaming mean-IoU metric (a confusion matrix updated per batch): each applies where
# its text occurs in the solution and is skipped elsewhere. (key, description, intended, [(kind, old, new), ...]);
# kind "e" expression, "s" statement.
_ARGMAX = "tf.argmax(y_pred, axis=-1, output_type=tf.int32)"
_UNION = "tf.reduce_sum(self.confusion, axis=0) + tf.reduce_sum(self.confusion, axis=1) - intersection"
_IOU = "iou = tf.boolean_mask(intersection, seen) / tf.boolean_mask(union, seen)"
_TRUE = "tf.reshape(tf.cast(y_true, tf.int32), [-1])"
_PRED = f"tf.reshape({_ARGMAX}, [-1])"
_CM = "tf.math.confusion_matrix(true, predicted, num_classes=self.num_classes, dtype=tf.float64)"

_METRIC: list[tuple[str, str, bool | None, list[tuple[str, str, str]]]] = [
    ("no-argmax", "scores cast to ids instead of argmax", False, [("e", _ARGMAX, "tf.cast(y_pred, tf.int32)")]),
    ("argmax-axis0", "argmax over axis 0", False, [("e", _ARGMAX, "tf.argmax(y_pred, axis=0, output_type=tf.int32)")]),
    ("argmax-axis1", "argmax over axis 1", False, [("e", _ARGMAX, "tf.argmax(y_pred, axis=1, output_type=tf.int32)")]),
    ("argmax-axis3", "argmax over axis 3 (only right for 4-D scores)", False,
     [("e", _ARGMAX, "tf.argmax(y_pred, axis=3, output_type=tf.int32)")]),
    ("argmax-int64", "argmax without output_type (int64 ids)", None, [("e", _ARGMAX, "tf.argmax(y_pred, axis=-1)")]),
    ("no-reset", "reset_state does nothing", False, [("s", "self.confusion.assign(tf.zeros_like(self.confusion))", "pass")]),
    ("reset-ones", "reset_state fills ones", False,
     [("s", "self.confusion.assign(tf.zeros_like(self.confusion))", "self.confusion.assign(tf.ones_like(self.confusion))")]),
    ("init-ones", "the confusion matrix starts at ones", False, [("e", "'zeros'", "'ones'")]),
    ("union-no-minus", "union without subtracting the intersection", False,
     [("e", _UNION, "tf.reduce_sum(self.confusion, axis=0) + tf.reduce_sum(self.confusion, axis=1)")]),
    ("union-axes", "union's two sums in the other order", True,
     [("e", _UNION, "tf.reduce_sum(self.confusion, axis=1) + tf.reduce_sum(self.confusion, axis=0) - intersection")]),
    ("mean-all", "mean over every class (absent ones count 0)", False, [("s", _IOU, "iou = intersection / tf.maximum(union, 1.0)")]),
    ("mean-all-nan", "divide_no_nan over every class", False, [("s", _IOU, "iou = tf.math.divide_no_nan(intersection, union)")]),
    ("seen-truth", "mean over the classes in the truth only", False,
     [("s", "seen = union > 0", "seen = tf.reduce_sum(self.confusion, axis=1) > 0")]),
    ("seen-hit", "mean over the classes with a non-empty intersection", False, [("s", "seen = union > 0", "seen = intersection > 0")]),
    ("seen-greater", "tf.greater(union, 0)", True, [("s", "seen = union > 0", "seen = tf.greater(union, 0)")]),
    ("smoothed", "IoU smoothed with +1", False, [("s", _IOU, "iou = (tf.boolean_mask(intersection, seen) + 1) / "
                                                     "(tf.boolean_mask(union, seen) + 1)")]),
    ("no-reshape-true", "labels not flattened", False, [("e", _TRUE, "tf.cast(y_true, tf.int32)")]),
    ("no-reshape-pred", "predictions not flattened", False, [("e", _PRED, _ARGMAX)]),
    ("no-cast-true", "labels not cast to int32", None, [("e", _TRUE, "tf.reshape(y_true, [-1])")]),
    ("reshape-tuple", "tf.reshape(x, (-1,))", True, [("e", _TRUE, "tf.reshape(tf.cast(y_true, tf.int32), (-1,))"),
                                                    ("e", _PRED, f"tf.reshape({_ARGMAX}, (-1,))")]),
    ("float32", "float32 accumulators", True, [("e", "'float64'", "'float32'"), ("e", "tf.float64", "tf.float32")]),
    ("confusion-transposed", "confusion matrix of (predicted, true): IoU is symmetric", True,
     [("e", _CM, "tf.math.confusion_matrix(predicted, true, num_classes=self.num_classes, dtype=tf.float64)")]),
    ("classes-{public}", "confusion matrix sized for the public case's {public} classes, whatever num_classes is", False,
     [("e", _CM, "tf.math.confusion_matrix(true, predicted, num_classes={public}, dtype=tf.float64)")]),
    ("assign", "assign instead of assign_add (only the last batch counts)", False,
     [("s", "self.confusion.assign_add(batch)", "self.confusion.assign(batch)")]),
    ("reduce-sum", "sum of the IoUs instead of their mean", False,
     [("s", "return tf.cast(tf.reduce_mean(iou), tf.float32)", "return tf.cast(tf.reduce_sum(iou), tf.float32)")]),
    ("per-all-classes", "sum of IoUs divided by num_classes", False,
     [("s", "return tf.cast(tf.reduce_mean(iou), tf.float32)",
       "return tf.cast(tf.reduce_sum(iou) / self.num_classes, tf.float32)")]),
    ("no-cast-result", "result returned as float64", None,
     [("s", "return tf.cast(tf.reduce_mean(iou), tf.float32)", "return tf.reduce_mean(iou)")]),
    ("name-iou", "default name 'iou'", False, [("e", "'mean_iou'", "'iou'")]),
    ("name-dropped", "name not passed to Metric.__init__", False,
     [("s", "super().__init__(name=name, **kwargs)", "super().__init__(**kwargs)")]),
    ("config-no-classes", "get_config without num_classes", False,
     [("s", "return {**super().get_config(), 'num_classes': self.num_classes}", "return super().get_config()")]),
    ("int-dropped", "num_classes stored without int()", True,
     [("s", "self.num_classes = int(num_classes)", "self.num_classes = num_classes")]),
]


def _op_metric(code: str, ctx: Context) -> Iterator[Candidate]:
    public = str(ctx.meta["public"][0].get("classes", "")) if ctx.meta.get("public") else ""
    for key, description, intended, subs in _METRIC:
        subs = [(kind, old, new.replace("{public}", public)) for kind, old, new in subs]

        def edit(tree: ast.Module, subs: list = subs) -> None:
            for kind, old, new in subs:
                (_sub_expr if kind == "e" else _sub_stmt)(tree, old, new)
        yield "metric", key.replace("{public}", public), description.replace("{public}", public), intended, "", edit

    def undecorated(tree: ast.Module) -> None:
        cls = _function(tree)
        if not cls.decorator_list:
            raise Skip("not decorated")
        cls.decorator_list = []
    yield "metric", "unregistered", "class not registered with Keras (no decorator)", False, "", undecorated
    yield "rewrite", "rewrite:keras", "import keras; keras.metrics.Metric and keras.utils.register_keras_serializable", \
        True, "", lambda t: _namespace(t, "keras")


# ------------------------------------------------------------------------------------------------ examples
def _op_examples(code: str, ctx: Context) -> Iterator[Candidate]:
    """The example submissions the exercise declares: its alternative (all edits at once) and each mistake."""
    examples = ctx.meta.get("examples", {})
    declared = [("example:alternative", "the exercise's declared alternative", True, examples.get("alternative", []))]
    declared += [(f"example:{m['student']}", str(m.get("description", m["student"])), False, m["edits"])
                 for m in examples.get("mistakes", [])]
    for key, description, intended, edits in declared:
        if not edits:
            continue

        def edit(tree: ast.Module, edits: list = edits) -> None:
            text = code
            for old, new in edits:
                if old not in text:
                    raise Skip(f"{old!r} is not in the solution")
                text = text.replace(old, new)
            tree.body[:] = ast.parse(text).body
        yield "example", key, description, intended, "", edit


# ------------------------------------------------------------------------------------------------- generate
_LAYER_OPS = (_op_arguments, _op_call_arguments, _op_remove_duplicate, _op_merge, _op_return, _op_rewire,
              _op_param_default, _op_conditions, _op_rewrites, _op_forms)
OPERATORS: dict[str, tuple[Callable[[str, Context], Iterator[Candidate]], ...]] = {
    "block": _LAYER_OPS + (_op_examples,),
    "model": _LAYER_OPS + (_op_stand_ins, _op_examples),
    "metric": (_op_metric, _op_examples),
}


def assignments(repo: Path = REPO) -> dict[str, Path]:
    """assignment -> its source notebook: the folders of ``source/`` whose notebook declares exercises
    (the first such notebook of a folder, as the kit's examples take it)."""
    import nbformat

    from autograder.course import exercise_book

    out: dict[str, Path] = {}
    folder = repo / "source"
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
            if folder.is_dir() else []:
        for path in sorted(sub.glob("*.ipynb")):
            if exercise_book.has_exercises(nbformat.read(path, as_version=4)):
                out[sub.name] = path
                break
    return out


@functools.lru_cache(maxsize=None)
def _book(path: Path) -> Any:
    from autograder.course import exercise_book

    return exercise_book.read(path)


def book(assignment: str, repo: Path = REPO) -> Any:
    """The exercises of ``assignment``'s source notebook (:class:`autograder.course.exercise_book.Book`)."""
    found = assignments(repo)
    if assignment not in found:
        raise KeyError(f"no assignment {assignment!r} with exercises under {repo / 'source'}")
    return _book(found[assignment])


def solutions(assignment: str, repo: Path = REPO) -> dict[str, str]:
    """grade_id -> the instructor's answer cell of every exercise (solution markers removed)."""
    return {entry.name: entry.solution for entry in book(assignment, repo).entries}


def _definitions(the_book: Any) -> dict[str, ast.FunctionDef]:
    """Every function the notebook's solution cells define, by name."""
    out: dict[str, ast.FunctionDef] = {}
    for entry in the_book.entries:
        for node in ast.parse(entry.solution).body:
            if isinstance(node, ast.FunctionDef):
                out.setdefault(node.name, node)
    return out


def _parameters(fn: ast.FunctionDef) -> tuple[tuple[str, ...], dict[str, str]]:
    """Positional parameters and the sources of their defaults."""
    names = tuple(a.arg for a in fn.args.posonlyargs + fn.args.args)
    return names, {n: ast.unparse(d) for n, d in zip(names[len(names) - len(fn.args.defaults):], fn.args.defaults)}


def _inputs_of(entry: Any) -> int:
    """How many tensors a block exercise takes (its cases' ``inputs``); none for the other kinds."""
    return len(entry.meta["public"][0].get("inputs", [])) if entry.meta.get("kind") == "block" else 0


def context(the_book: Any, entry: Any, assignment: str = "") -> Context:
    """What the operators need to know of one exercise, read from its notebook."""
    definitions = _definitions(the_book)
    own = definitions.get(entry.function)
    defaults = _parameters(own)[1] if own is not None else {}
    signatures: dict[str, tuple[str, ...]] = dict(KERAS)
    takes = {name: 1 for name in KERAS_FUNCTIONS}
    stand_ins, stand_in_defaults, stand_in_returns = [], {}, {}
    for name in entry.meta.get("stand_ins", {}):
        fn = definitions.get(name)
        if fn is None:
            raise LookupError(f"{the_book.path}: {entry.name} names the stand-in {name!r}, which no solution cell defines")
        params, fn_defaults = _parameters(fn)
        graded = next((e for e in the_book.entries if e.function == name), None)
        tensors = _inputs_of(graded) if graded is not None else \
            sum(1 for p in params if fn_defaults.get(p) in (None, "None"))
        returned = next((n.value for n in _walk(fn) if isinstance(n, ast.Return) and isinstance(n.value, ast.Tuple)), None)
        stand_ins.append(name)
        signatures[name] = params
        takes[name] = tensors
        stand_in_defaults[name] = fn_defaults
        if returned is not None and all(isinstance(e, ast.Name) for e in returned.elts):
            stand_in_returns[name] = tuple(e.id for e in returned.elts)
    return Context(assignment, entry.name, entry.meta["kind"], entry.meta, _inputs_of(entry), defaults, signatures,
                   takes, tuple(stand_ins), stand_in_defaults, stand_in_returns)


def generate(names: tuple[str, ...] | None = None, repo: Path = REPO) -> list[Mutant]:
    """Every mutant, in a stable order, with ids m0001, m0002, ... over all assignments (always numbered as for
    all, so an id does not depend on the selection); ``names``: the assignments to return (default all)."""
    out: list[Mutant] = []
    number = 0
    for assignment in assignments(repo):
        the_book = book(assignment, repo)
        for entry in the_book.entries:
            ctx = context(the_book, entry, assignment)
            code = entry.solution
            seen = {ast.dump(ast.parse(code))}
            keys: set[str] = set()
            bases = _bases(code)
            for op in OPERATORS[entry.meta["kind"]]:
                for operator, key, description, intended, base, edit in op(code, ctx):
                    try:
                        tree = bases[base]()
                        edit(tree)
                        ast.fix_missing_locations(tree)
                        new = ast.unparse(tree) + "\n"
                        dump = ast.dump(ast.parse(new))
                    except Skip:
                        continue
                    if dump in seen:
                        continue
                    while key in keys:
                        key += "'"
                    seen.add(dump)
                    keys.add(key)
                    number += 1
                    if names is None or assignment in names:
                        out.append(Mutant(f"m{number:04d}", assignment, entry.name, operator, f"{entry.name}/{key}",
                                          description, new, intended))
    return out


def sample(mutants: list[Mutant], k: int, seed: int = 2024) -> list[Mutant]:
    """A deterministic subset of ``k`` mutants per assignment, a quarter (at least 2) of them equivalent rewrites."""
    chosen: list[Mutant] = []
    for assignment in sorted({m.assignment for m in mutants}):
        pool = [m for m in mutants if m.assignment == assignment]
        rng = random.Random(f"{seed}:{assignment}")
        equivalents = [m for m in pool if m.intended is True]
        others = [m for m in pool if m.intended is not True]
        n_eq = min(len(equivalents), max(2, k // 4), k)
        picked = rng.sample(equivalents, n_eq) + rng.sample(others, min(len(others), k - n_eq))
        chosen += picked
    return sorted(chosen, key=lambda m: m.id)
