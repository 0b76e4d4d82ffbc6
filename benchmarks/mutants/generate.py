"""Mutants of the instructor's answer cells, made by rewriting their syntax trees (``ast`` + ``ast.unparse``).

Each operator yields one mutant per site and alternative: a layer argument changed, added or removed, a layer
application removed or duplicated, tensors rewired, a parameter replaced by its default, a step of the metric
dropped or altered, and rewrites that must not change anything (keywords, namespaces, loops, ...). Whether a
mutant really changes what the notebook asks for is decided by :mod:`benchmarks.mutants.oracle`; the label
``intended`` only records what the rewrite was written as (True: an equivalent rewrite, False: a mistake,
None: either, e.g. a rewire that may hit an alias).

Nothing here imports TensorFlow, so listing the mutants is quick.
"""
from __future__ import annotations

import ast
import copy
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

REPO = Path(__file__).resolve().parents[2]

# assignment -> (notebook, graded answer cells in notebook order)
ASSIGNMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "unet": ("Image_segmentation_Unet.ipynb", ("conv_block", "upsampling_block", "unet_model")),
    "unet_variants": ("Unet_Variants.ipynb", ("mean_iou", "upsample_conv_block", "bn_conv_block")),
}

# Keras 3 layers used by the answers: their positional parameters, in order.
LAYERS: dict[str, tuple[str, ...]] = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
               "activation", "use_bias", "kernel_initializer"),
    "Conv2DTranspose": ("filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
                        "dilation_rate", "activation", "use_bias", "kernel_initializer"),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format"),
    "Dropout": ("rate", "noise_shape", "seed"),
    "UpSampling2D": ("size", "data_format", "interpolation"),
    "LeakyReLU": ("negative_slope",),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "Concatenate": ("axis",),
    "Input": ("shape", "batch_size", "dtype"),
}
FUNCTIONS: dict[str, tuple[str, ...]] = {  # functions called like layers
    "concatenate": ("inputs", "axis"),
    "conv_block": ("inputs", "n_filters", "dropout_prob", "max_pooling"),
    "upsampling_block": ("expansive_input", "contractive_input", "n_filters"),
}
SIGNATURES = {**LAYERS, **FUNCTIONS}


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
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
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


def _constructions(tree: ast.AST) -> list[ast.Call]:
    """Layer constructions, e.g. ``Conv2D(...)``, and functional ``concatenate(...)`` calls, in source order."""
    return [n for n in _walk(tree) if _callee(n) in LAYERS and _callee(n) != "Input" or _callee(n) == "concatenate"]


def _applications(tree: ast.AST) -> list[ast.Call]:
    """Layer applications ``Layer(...)(x)`` and functional ``concatenate([...])``, in source order."""
    return [n for n in _walk(tree) if isinstance(n, ast.Call)
            and (_callee(n.func) in LAYERS and _callee(n.func) != "Input" or _callee(n) == "concatenate")]


def _label(tree: ast.AST, call: ast.Call) -> str:
    name = _callee(call)
    same = [n for n in _walk(tree) if _callee(n) == name]
    return f"{name}#{next(i for i, n in enumerate(same, 1) if n is call)}"


def _get(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    params = SIGNATURES[_callee(call)]
    i = params.index(name) if name in params else len(call.args)
    return call.args[i] if i < len(call.args) else None


def _set(call: ast.Call, name: str, value: ast.expr) -> None:
    for kw in call.keywords:
        if kw.arg == name:
            kw.value = value
            return
    params = SIGNATURES[_callee(call)]
    if name in params and params.index(name) < len(call.args):
        call.args[params.index(name)] = value
    else:
        call.keywords.append(ast.keyword(arg=name, value=value))


def _delete(call: ast.Call, name: str) -> None:
    if any(kw.arg == name for kw in call.keywords):
        call.keywords = [kw for kw in call.keywords if kw.arg != name]
        return
    params = SIGNATURES[_callee(call)]
    i = params.index(name)
    later = [ast.keyword(arg=params[j], value=a) for j, a in enumerate(call.args) if j > i]
    call.args = call.args[:i]
    call.keywords = later + call.keywords


def _to_keywords(call: ast.Call) -> None:
    params = SIGNATURES[_callee(call)]
    call.keywords = [ast.keyword(arg=params[i], value=a) for i, a in enumerate(call.args)] + call.keywords
    call.args = []


def _to_positional(call: ast.Call, through: str, fill: dict[str, str]) -> None:
    """Pass every parameter up to ``through`` positionally, filling absent ones from ``fill``."""
    params = SIGNATURES[_callee(call)]
    values = [_get(call, p) for p in params[:params.index(through) + 1]]
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
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in {*LAYERS, "concatenate"}:
            n.func = _expr(f"{prefix}.{'' if n.func.id == 'Input' else 'layers.'}{n.func.id}")
        elif isinstance(n, ast.Attribute) and prefix == "keras" and _src(n.value) == "tf.keras":
            _replace(tree, n, _expr(f"keras.{n.attr}"))
    if prefix == "keras":
        tree.body.insert(0, ast.Import(names=[ast.alias(name="keras")]))


def _sub_expr(tree: ast.AST, old: str, new: str) -> None:
    """Replace every expression that unparses to ``old`` (it must occur)."""
    hits = [n for n in _walk(tree) if isinstance(n, ast.expr) and ast.unparse(n) == old]
    if not hits:
        raise LookupError(f"{old!r} is not in the solution any more: update benchmarks/mutants/generate.py")
    for n in hits:
        _replace(tree, n, _expr(new))


def _sub_stmt(tree: ast.AST, old: str, new: str) -> None:
    hits = [n for n in _walk(tree) if isinstance(n, ast.stmt) and ast.unparse(n) == old]
    if not hits:
        raise LookupError(f"{old!r} is not in the solution any more: update benchmarks/mutants/generate.py")
    for n in hits:
        _replace(tree, n, ast.parse(new).body)


# ------------------------------------------------------------------------------------ layer argument values
# (new source or None to delete, intended) per layer parameter and current value (None: absent).
# ``once``: equivalent rewrites are offered at the first site of each layer only, to keep them a minority.
def _alternatives(layer: str, param: str, cur: str | None, once: bool) -> list[tuple[str | None, bool | None]]:
    W, E = False, True
    alts: list[tuple[str | None, bool | None]] = []
    conv = layer in ("Conv2D", "Conv2DTranspose")
    if conv and param == "filters":
        alts = {"n_filters": [("n_filters * 2", W), ("32", W)],
                "n_classes": [("n_classes + 1", W), ("n_filters", W)]}.get(cur, [])
    elif conv and param == "kernel_size":
        alts = {"3": [("2", W), ("5", W)] + [("(3, 3)", E)] * once, "1": [("3", W)] + [("(1, 1)", E)] * once}.get(cur, [])
    elif conv and param == "strides":
        alts = {None: [("2", W)] + [("1", E)] * (once and layer == "Conv2D"), "2": [("1", W), ("(2, 2)", E)]}.get(cur, [])
    elif conv and param == "padding":
        alts = [("'valid'", W)] if cur == "'same'" else []
    elif conv and param == "activation":
        alts = {"'relu'": [(None, W), ("'sigmoid'", W)] + [("tf.keras.activations.relu", E)] * once,
                None: [("'relu'", W), ("'softmax'", W)] + [("'linear'", E)] * once}.get(cur, [])
    elif conv and param == "kernel_initializer":
        alts = {"'he_normal'": [("'glorot_uniform'", W), (None, W)]
                + [("tf.keras.initializers.HeNormal()", E)] * once,
                None: [("'he_normal'", E)] * once}.get(cur, [])  # not stated for these layers: any is fine
    elif conv and param == "dilation_rate":
        alts = [("2", W)] + [("(1, 1)", E)] * once if cur is None else []
    elif conv and param == "use_bias":
        alts = {None: [("False", W)], "False": [("True", W), (None, W)]}.get(cur, [])
    elif layer == "Conv2D" and param == "groups":
        alts = [("1", E)] * once if cur is None else []
    elif layer == "MaxPooling2D" and param == "pool_size":
        alts = [("(3, 3)", W), ("(2, 1)", W)] + [("2", E)] * once if cur in ("(2, 2)", None) else []
    elif layer == "MaxPooling2D" and param == "strides":
        alts = [("1", W)] + [("2", E)] * once if cur is None else []
    elif layer == "Dropout" and param == "rate":
        alts = [("0.5", W), ("dropout_prob / 2", W)] if cur == "dropout_prob" else []
    elif layer == "UpSampling2D" and param == "size":
        alts = [("(3, 3)", W), ("(2, 1)", W)] + [("2", E)] * once if cur == "(2, 2)" else []
    elif layer == "UpSampling2D" and param == "interpolation":
        alts = [("'bilinear'", W)] + [("'nearest'", E)] * once if cur is None else []
    elif layer == "LeakyReLU" and param == "negative_slope":
        alts = [("0.3", W), ("0.2", W), ("0.01", W), (None, W)] if cur == "0.1" else []
    elif layer == "BatchNormalization" and param == "axis":
        alts = [("1", W)] + [("3", E)] * once if cur is None else []
    elif layer == "BatchNormalization" and param == "epsilon":
        alts = [("0.1", W)] if cur is None else []
    elif layer == "BatchNormalization" and param == "center":
        alts = [("False", W)] if cur is None else []
    elif layer == "concatenate" and param == "axis":
        alts = [("1", W), ("2", W), ("-1", E)] if cur == "3" else []
    return alts


def _describe_arg(site: str, param: str, cur: str | None, new: str | None) -> str:
    if cur is None:
        return f"{site}: {param}={new} added"
    if new is None:
        return f"{site}: {param}={cur} removed"
    return f"{site}: {param} {cur} -> {new}"


Candidate = tuple[str, str, str, "bool | None", str, Edit]  # operator, key, description, intended, base, edit


def _site_edit(base: str, finder: Callable[[ast.Module], list[ast.Call]], index: int,
               change: Callable[[ast.Module, ast.Call], None]) -> tuple[str, Edit]:
    def edit(tree: ast.Module) -> None:
        change(tree, finder(tree)[index])
    return base, edit


def _bases(code: str) -> dict[str, Callable[[], ast.Module]]:
    def unrolled() -> ast.Module:
        tree = ast.parse(code)
        _unroll(tree)
        return tree
    return {"": lambda: ast.parse(code), "unrolled": unrolled}


# ------------------------------------------------------------------------------------------------ operators
def _op_arguments(code: str) -> Iterator[Candidate]:
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
            for param in SIGNATURES[layer]:
                cur = _src(_get(call, param))
                alts = _alternatives(layer, param, cur, once)
                if not once:  # later sites of a layer, and the unrolled form: the first mistake of each kind
                    alts = [a for a in alts if a[1] is False][:1]
                for new, intended in alts:
                    def change(tree: ast.Module, call: ast.Call, param: str = param, new: str | None = new) -> None:
                        _delete(call, param) if new is None else _set(call, param, _expr(new))
                    key = f"{site.split()[0]}{'@2' if base else ''}:{param}={new if new is not None else '-'}"
                    yield ("arg", key, _describe_arg(site, param, cur, new), intended,
                           *_site_edit(base, _constructions, index, change))


def _op_call_arguments(code: str) -> Iterator[Candidate]:
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


def _op_remove_duplicate(code: str) -> Iterator[Candidate]:
    """Each layer application removed (its input passed on), or applied twice."""
    tree = ast.parse(code)
    for index, app in enumerate(_applications(tree)):
        concat = _callee(app) == "concatenate"
        site = _label(tree, app if concat else app.func)

        def remove(tree: ast.Module, app: ast.Call, concat: bool = concat) -> None:
            _replace(tree, app, app.args[0].elts[0] if concat else app.args[0])
        yield "remove", f"{site}:removed", f"{site} not applied", False, *_site_edit("", _applications, index, remove)
        if not concat:
            def duplicate(tree: ast.Module, app: ast.Call) -> None:
                app.args[0] = ast.Call(func=copy.deepcopy(app.func), args=[app.args[0]], keywords=[])
            yield ("duplicate", f"{site}:twice", f"{site} applied twice in a row", False,
                   *_site_edit("", _applications, index, duplicate))


def _concats(tree: ast.Module) -> list[ast.Call]:
    return [n for n in _walk(tree) if _callee(n) == "concatenate"]


def _op_concatenate(code: str) -> Iterator[Candidate]:
    """Concatenation order swapped; the Concatenate layer instead of the function."""
    tree = ast.parse(code)
    for index, call in enumerate(_concats(tree)):
        def swap(tree: ast.Module, call: ast.Call) -> None:
            call.args[0].elts.reverse()
        def layer(tree: ast.Module, call: ast.Call) -> None:
            axis = _get(call, "axis")
            _replace(tree, call, ast.Call(func=ast.Call(func=_expr("tf.keras.layers.Concatenate"), args=[],
                                                         keywords=[ast.keyword("axis", axis)] if axis else []),
                                          args=[call.args[0]], keywords=[]))
        lst = _src(call.args[0])
        yield "concat", f"concatenate#{index + 1}:swapped", f"concatenate {lst} in the other order", False, \
            *_site_edit("", _concats, index, swap)
        yield "rewrite", f"concatenate#{index + 1}:layer", "concatenate(...) written as tf.keras.layers.Concatenate(axis=...)([...])", True, \
            *_site_edit("", _concats, index, layer)


def _returns(tree: ast.Module) -> list[ast.Return]:
    return [n for n in _walk(tree) if isinstance(n, ast.Return) and isinstance(n.value, ast.Tuple)]


def _op_return(code: str) -> Iterator[Candidate]:
    tree = ast.parse(code)
    for index, ret in enumerate(_returns(tree)):
        def swap(tree: ast.Module, ret: ast.Return) -> None:
            ret.value.elts.reverse()
        yield "return", "return:swapped", f"returns ({', '.join(reversed([_src(e) for e in ret.value.elts]))})", False, \
            *_site_edit("", _returns, index, swap)


def _tensor_names(fn: ast.FunctionDef) -> dict[str, str]:
    """Names that hold tensors (or block results) -> what made them, in order of definition."""
    kinds = {a.arg: "tensor" for a in fn.args.args if a.arg in ("inputs", "expansive_input", "contractive_input")}
    for n in _walk(fn):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            v = n.value
            kind = ("block:" + _callee(v) if _callee(v) in ("conv_block", "upsampling_block") else
                    "tensor" if isinstance(v, ast.IfExp) or _callee(v) in ("Input", "concatenate")
                    or isinstance(v, ast.Call) and _callee(v.func) in LAYERS or isinstance(v, ast.Name) and v.id in kinds
                    else None)
            if kind:
                kinds.setdefault(n.targets[0].id, kinds.get(v.id, kind) if isinstance(v, ast.Name) else kind)
    return kinds


def _tensor_uses(tree: ast.Module) -> list[ast.Name]:
    """Names read where a tensor goes in: layer inputs, concatenated tensors, aliases, block inputs, model outputs."""
    fn = _function(tree)
    kinds = _tensor_names(fn)
    uses: list[ast.Name] = []
    for n in _walk(fn):
        slots: list[ast.AST] = []
        if isinstance(n, ast.Call) and (isinstance(n.func, ast.Call) or _callee(n) in FUNCTIONS):
            slots = list(n.args[:1] if isinstance(n.func, ast.Call) or _callee(n) == "conv_block" else n.args[:2])
            slots = [e for s in slots for e in (s.elts if isinstance(s, ast.List) else [s])]
        elif _callee(n) == "Model":
            slots = [kw.value for kw in n.keywords if kw.arg == "outputs"] + n.args[1:2]
        elif isinstance(n, ast.Assign) and isinstance(n.value, ast.Name):
            slots = [n.value]
        elif isinstance(n, ast.IfExp):
            slots = [n.orelse]
        uses += [s for s in slots if isinstance(s, ast.Name) and s.id in kinds]
    return uses


def _op_rewire(code: str) -> Iterator[Candidate]:
    """A tensor taken from another variable of the same kind defined before it (at most two per site)."""
    tree = ast.parse(code)
    fn = _function(tree)
    if not isinstance(fn, ast.FunctionDef):
        return
    kinds = _tensor_names(fn)
    defined = {a.arg: 0 for a in fn.args.args}
    for n in _walk(fn):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            defined.setdefault(n.targets[0].id, n.lineno)
    for index, use in enumerate(_tensor_uses(tree)):
        before = [n for n in kinds if defined[n] < use.lineno and kinds[n] == kinds[use.id] and n != use.id]
        for other in before[-1:]:
            def change(tree: ast.Module, use: ast.Name, other: str = other) -> None:
                use.id = other
            yield ("rewire", f"use#{index + 1}:{use.id}->{other}", f"{other} used instead of {use.id} "
                   f"(occurrence {index + 1} of a tensor)", None, *_site_edit("", _tensor_uses, index, change))
    # an alias taken one statement too early (e.g. the skip connection before the dropout)
    for i, stmt in enumerate(fn.body):
        if i and isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and isinstance(fn.body[i - 1], ast.If):
            def move(tree: ast.Module, i: int = i) -> None:
                body = _function(tree).body
                body[i - 1], body[i] = body[i], body[i - 1]
            yield ("rewire", f"stmt#{i}:earlier", f"`{ast.unparse(stmt)}` moved before `{ast.unparse(fn.body[i - 1].test)}` "
                   "block", False, "", move)


def _op_param_default(code: str) -> Iterator[Candidate]:
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


def _op_conditions(code: str) -> Iterator[Candidate]:
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


def _op_rewrites(code: str) -> Iterator[Candidate]:
    """Equivalent rewrites of the whole cell."""
    def keywords(tree: ast.Module) -> None:
        calls = [c for c in _walk(tree) if _callee(c) in SIGNATURES and c.args]
        if not calls:
            raise Skip("no positional arguments")
        for c in calls:
            _to_keywords(c)

    def positional(tree: ast.Module) -> None:
        moved = 0
        for c in _walk(tree):
            through = {"Conv2D": "padding", "Conv2DTranspose": "padding", "MaxPooling2D": "pool_size",
                       "UpSampling2D": "size", "LeakyReLU": "negative_slope", "Dropout": "rate",
                       "conv_block": "max_pooling", "upsampling_block": "n_filters"}.get(_callee(c))
            try:
                if through:
                    _to_positional(c, through, {"strides": "1", "dropout_prob": "0"})
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


# ---------------------------------------------------------------------------------------------- unet_model
def _blocks(tree: ast.Module) -> list[ast.Call]:
    return [n for n in _walk(tree) if _callee(n) in ("conv_block", "upsampling_block")]


def _op_unet(code: str) -> Iterator[Candidate]:
    """How unet_model connects its blocks: their arguments, which tensors go where, equivalent forms."""
    tree = ast.parse(code)
    targets = {id(s.value): s.targets[0].id for s in _walk(tree) if isinstance(s, ast.Assign)}
    for index, call in enumerate(_blocks(tree)):
        block, name = _callee(call), targets.get(id(call), "?")
        changes: list[tuple[str, str | None, bool | None]] = []  # (param, new, intended)
        filters = _src(_get(call, "n_filters"))
        k = 1 if filters == "n_filters" else int(filters.split("*")[1]) if filters and "*" in filters else None
        if k:
            changes += [("n_filters", f"n_filters * {2 * k}", False)]
        if block == "conv_block":
            drop, pool = _src(_get(call, "dropout_prob")), _src(_get(call, "max_pooling"))
            changes += [("dropout_prob", "0.5", False), ("dropout_prob", None, False)] if drop else [("dropout_prob", "0.3", False)]
            changes += [("max_pooling", None, False)] if pool == "False" else [("max_pooling", "False", False)]
        for slot, arg in zip(SIGNATURES[block], call.args[:2]):  # the tensors: flip next/skip, or a neighbour's
            if isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name):
                base, i = arg.value.id, arg.slice.value
                alts = [f"{base}[{1 - i}]"]
                if base.startswith("enc") and slot == "contractive_input":
                    n = int(base[3:])
                    alts.append(f"enc{n - 1 if n > 1 else 2}[1]")
                changes += [(slot, a, True if base == "bottleneck" else False) for a in alts]
        for param, new, intended in changes:
            def change(tree: ast.Module, call: ast.Call, param: str = param, new: str | None = new) -> None:
                _delete(call, param) if new is None else _set(call, param, _expr(new))
            cur = _src(_get(call, param))
            yield ("block-arg", f"{name}:{param}={new if new is not None else '-'}",
                   _describe_arg(f"{name} = {block}(...)", param, cur, new), intended,
                   *_site_edit("", _blocks, index, change))

    def commute(tree: ast.Module) -> None:
        for n in list(_walk(tree)):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and _src(n.left) == "n_filters":
                n.left, n.right = n.right, n.left

    def unpack(tree: ast.Module) -> None:
        fn = _function(tree)
        for stmt in fn.body:
            if isinstance(stmt, ast.Assign) and _callee(stmt.value) == "conv_block":
                name = stmt.targets[0].id
                stmt.targets = [_expr(f"({name}_next, {name}_skip)")]
                stmt.targets[0].ctx = ast.Store()
                for e in stmt.targets[0].elts:
                    e.ctx = ast.Store()
                for n in list(_walk(fn)):
                    if isinstance(n, ast.Subscript) and _src(n.value) == name:
                        _replace(tree, n, ast.Name(f"{name}_{'next' if n.slice.value == 0 else 'skip'}", ast.Load()))

    def model_positional(tree: ast.Module) -> None:
        call = next(c for c in _walk(tree) if _callee(c) == "Model")
        call.args = [kw.value for kw in call.keywords]
        call.keywords = []

    def input_keyword(tree: ast.Module) -> None:
        call = next(c for c in _walk(tree) if _callee(c) == "Input")
        call.keywords = [ast.keyword("shape", call.args[0])]
        call.args = []

    yield "rewrite", "rewrite:commute", "n_filters * k written as k * n_filters", True, "", commute
    yield "rewrite", "rewrite:unpack", "block results unpacked into (next, skip) names", True, "", unpack
    yield "rewrite", "rewrite:model-positional", "tf.keras.Model(inputs, logits)", True, "", model_positional
    yield "rewrite", "rewrite:input-shape", "Input(shape=input_size)", True, "", input_keyword


# ------------------------------------------------------------------------------------------------- the metric
_ARGMAX = "tf.argmax(y_pred, axis=-1, output_type=tf.int32)"
_UNION = "tf.reduce_sum(self.confusion, axis=0) + tf.reduce_sum(self.confusion, axis=1) - intersection"
_IOU = "iou = tf.boolean_mask(intersection, seen) / tf.boolean_mask(union, seen)"
_TRUE = "tf.reshape(tf.cast(y_true, tf.int32), [-1])"
_PRED = f"tf.reshape({_ARGMAX}, [-1])"
_CM = "tf.math.confusion_matrix(true, predicted, num_classes=self.num_classes, dtype=tf.float64)"

# (key, description, intended, [(kind, old, new), ...]); kind "e" expression, "s" statement
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
    ("classes-5", "confusion matrix sized for 5 classes, whatever num_classes is", False,
     [("e", _CM, "tf.math.confusion_matrix(true, predicted, num_classes=5, dtype=tf.float64)")]),
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


def _op_metric(code: str) -> Iterator[Candidate]:
    for key, description, intended, subs in _METRIC:
        def edit(tree: ast.Module, subs: list = subs) -> None:
            for kind, old, new in subs:
                (_sub_expr if kind == "e" else _sub_stmt)(tree, old, new)
        yield "metric", key, description, intended, "", edit

    def undecorated(tree: ast.Module) -> None:
        _function(tree).decorator_list = []
    yield "metric", "unregistered", "class not registered with Keras (no decorator)", False, "", undecorated
    yield "rewrite", "rewrite:keras", "import keras; keras.metrics.Metric and keras.utils.register_keras_serializable", \
        True, "", lambda t: _namespace(t, "keras")


# ------------------------------------------------------------------------------------------------- generate
_LAYER_OPS = (_op_arguments, _op_call_arguments, _op_remove_duplicate, _op_concatenate, _op_return, _op_rewire,
              _op_param_default, _op_conditions, _op_rewrites)
OPERATORS: dict[str, tuple[Callable[[str], Iterator[Candidate]], ...]] = {
    "conv_block": _LAYER_OPS, "upsampling_block": _LAYER_OPS, "upsample_conv_block": _LAYER_OPS,
    "bn_conv_block": _LAYER_OPS, "unet_model": _LAYER_OPS + (_op_unet,), "mean_iou": (_op_metric,),
}


def solutions(assignment: str, repo: Path = REPO) -> dict[str, str]:
    """grade_id -> the instructor's answer cell (solution markers removed)."""
    from autograder.instructor.examples import answer_sources

    notebook, _ = ASSIGNMENTS[assignment]
    return answer_sources(repo / "source" / assignment / notebook)


def generate(assignments: tuple[str, ...] = tuple(ASSIGNMENTS), repo: Path = REPO) -> list[Mutant]:
    """Every mutant, in a stable order, with ids m0001, m0002, ... over all assignments (always numbered as for all)."""
    out: list[Mutant] = []
    number = 0
    for assignment in ASSIGNMENTS:
        answers = solutions(assignment, repo)
        for exercise in ASSIGNMENTS[assignment][1]:
            code = answers[exercise]
            seen = {ast.dump(ast.parse(code))}
            keys: set[str] = set()
            bases = _bases(code)
            for op in OPERATORS[exercise]:
                for operator, key, description, intended, base, edit in op(code):
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
                    if assignment in assignments:
                        out.append(Mutant(f"m{number:04d}", assignment, exercise, operator, f"{exercise}/{key}",
                                          description, new, intended))
    return out


def sample(mutants: list[Mutant], k: int, seed: int = 2024) -> list[Mutant]:
    """A deterministic subset of ``k`` mutants per assignment, a quarter (at least 2) of them equivalent rewrites."""
    chosen: list[Mutant] = []
    for assignment in ASSIGNMENTS:
        pool = [m for m in mutants if m.assignment == assignment]
        if not pool:
            continue
        rng = random.Random(f"{seed}:{assignment}")
        equivalents = [m for m in pool if m.intended is True]
        others = [m for m in pool if m.intended is not True]
        n_eq = min(len(equivalents), max(2, k // 4), k)
        picked = rng.sample(equivalents, n_eq) + rng.sample(others, min(len(others), k - n_eq))
        chosen += picked
    return sorted(chosen, key=lambda m: m.id)
