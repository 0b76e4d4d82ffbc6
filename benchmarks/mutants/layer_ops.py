"""Layer operators (``block`` and ``model`` exercises): arguments changed, added or removed, applications removed
or duplicated, merges swapped or rewritten, tensors rewired, parameters replaced by their defaults, conditions
negated, and rewrites that must not change anything."""
from __future__ import annotations

import ast
import copy
import functools
from typing import Callable, Iterator, Mapping

from benchmarks.mutants.trees import (COMMUTATIVE, Candidate, Context, KERAS, KERAS_FILL, KERAS_FUNCTIONS, LAYERS,
                                      MERGES, Skip, THROUGH, _applications, _bases, _bigger, _callee, _constructions,
                                      _delete, _expr, _function, _get, _label, _namespace, _number, _replace, _roll,
                                      _set, _site_edit, _src, _to_keywords, _to_positional, _unroll, _walk)

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


