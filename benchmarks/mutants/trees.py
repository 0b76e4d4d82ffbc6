"""The mutants' building blocks: Keras's layer signatures, the records (:class:`Mutant`, :class:`Context`) and
the syntax-tree helpers every operator uses. Nothing here imports TensorFlow."""
from __future__ import annotations

import ast
import copy
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


