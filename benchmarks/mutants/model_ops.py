"""Model operators: the calls of the functions a ``model`` exercise's ``stand_ins`` name (their arguments and
which tensors go where)."""
from __future__ import annotations

import ast
import functools
from typing import Iterator

from benchmarks.mutants.trees import (Candidate, Context, Skip, _bigger, _callee, _delete, _expr, _function, _get,
                                      _number, _replace, _set, _site_edit, _src, _walk)
from benchmarks.mutants.layer_ops import _describe_arg

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


