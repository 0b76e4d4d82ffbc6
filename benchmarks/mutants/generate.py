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

The operators live in one module per kind of thing they rewrite (:mod:`.layer_ops`, :mod:`.model_ops`,
:mod:`.metric_ops`), on the helpers of :mod:`.trees`; this module reads the notebooks, runs the operators and
numbers the mutants. Nothing here imports TensorFlow, so listing the mutants is quick.
"""
from __future__ import annotations

import ast
import functools
import random
from pathlib import Path
from typing import Any, Callable, Iterator

from benchmarks.mutants.trees import (KERAS, KERAS_FUNCTIONS, MERGES, REPO, Candidate, Context, Mutant, Skip,
                                     _bases, _walk)
from benchmarks.mutants.layer_ops import (_op_arguments, _op_call_arguments, _op_conditions, _op_forms, _op_merge,
                                          _op_param_default, _op_remove_duplicate, _op_return, _op_rewire, _op_rewrites)
from benchmarks.mutants.model_ops import _op_stand_ins
from benchmarks.mutants.metric_ops import _op_metric
__all__ = ["REPO", "MERGES", "Mutant", "Context", "OPERATORS", "assignments", "book", "solutions",
           "context", "generate", "sample"]


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
