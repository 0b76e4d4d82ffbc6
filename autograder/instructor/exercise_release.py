"""What the release makes from a source notebook's exercises: the check cells' data and the grader's bundle.

For each exercise (:mod:`autograder.course.exercise_book`), the solution cell is run in this process and
becomes the reference: its signature, the expected data of the public check (its ``summary()`` lists and
structure, or the metric's values), the spec each check cell carries (``exercise = {...}``) and the
evidence of every fixed case, frozen into the bundle the grader reads (``references/<assignment>/``).
A definition the solution cannot satisfy stops here with one line naming the notebook and the cell.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.course import exercise_book
from autograder.course.exercise_book import Book, DefinitionError, Entry
from autograder.run.judge.references import References
from autograder.run.judge.verdict import compute_frozen

__all__ = ["Generated", "generate", "apply", "write_bundle"]


@dataclass(frozen=True)
class Generated:
    """A notebook's generated check-cell blocks (grade_id -> text) and its grader bundle."""

    cells: dict[str, str]
    bundle: dict[str, Any]


def _lit(value: Any) -> str:
    """A Python literal for plain data (tuples kept, strings in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_lit(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_lit(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(round(value, 6))
    return repr(value)


def _spec_text(variable: str, spec: dict[str, Any]) -> str:
    lines = [f"{variable} = {{  # the exercise, generated from the solution cell's metadata"]
    lines += [f"    {_lit(key)}: {_lit(value)}," for key, value in spec.items()]
    return "\n".join(lines + ["}"])


def _structure_text(descriptions: list[dict[str, Any]]) -> str:
    lines = ["expected_structure = ["]
    for number, description in enumerate(descriptions, start=1):
        rows = ",\n".join(f"        {_lit(row)}" for row in description["layers"])
        lines += [f"    # case {number}", '    {"layers": [', rows + "],",
                  f'     "outputs": {_lit(description["outputs"])}}}' + ("," if number < len(descriptions) else "")]
    return "\n".join(lines + ["]"])


def _summaries_text(summaries: list[list[Any] | None]) -> str:
    lines = ["expected_summaries = ["]
    for number, rows in enumerate(summaries, start=1):
        end = "," if number < len(summaries) else ""
        if rows is None:
            lines += [f"    # case {number}: no list, the structure below covers it", f"    None{end}"]
            continue
        body = ",\n     ".join(repr(row) for row in rows)
        lines += [f"    # case {number}", f"    [{body}]{end}"]
    return "\n".join(lines + ["]"])


def _fail(book: Book, entry: Entry, what: str, fix: str) -> DefinitionError:
    return DefinitionError(book.path, entry.cell, entry.name, what, fix)


def _spec(book: Book, entry: Entry, function: Any) -> dict[str, Any]:
    from test_utils import exercises

    meta = entry.meta
    signature = exercises.signature_of(function)
    names = {name for name, _ in signature}
    for part in ("public", "hidden"):
        for number, case in enumerate(meta[part], start=1):
            unknown = sorted(set(case.get("kwargs", {})) - names) if meta["kind"] != "metric" else []
            if unknown:
                raise _fail(book, entry, f"{part} case {number} sets {unknown[0]!r}, which {entry.function} does not take",
                            f"use the parameters of {entry.function}: " + ", ".join(sorted(names)))
    unknown = sorted(set(meta.get("challenge", {})) - names)
    if unknown:
        raise _fail(book, entry, f"challenge draws {unknown[0]!r}, which {entry.function} does not take",
                    f"use the parameters of {entry.function}: " + ", ".join(sorted(names)))
    spec = {"name": entry.name, "function": entry.function, "kind": meta["kind"], "signature": signature,
            "public": meta["public"], "hidden": meta["hidden"]}
    for key in ("free", "outputs", "training_mode", "challenge", "channels", "stand_ins"):
        if meta.get(key):
            spec[key] = meta[key]
    return spec


def _check_free(book: Book, entry: Entry, model: Any) -> None:
    classes = {type(layer).__name__: layer for layer in model.layers}
    for layer_class, setting in entry.meta.get("free", []):
        if layer_class in ("*", "output"):
            layer = model.layers[-1] if layer_class == "output" else None
        elif layer_class not in classes:
            raise _fail(book, entry, f'"free" names a {layer_class} layer, which the solution does not have',
                        "name a layer class the solution uses, or * for every layer")
        else:
            layer = classes[layer_class]
        if layer is not None and setting not in layer.get_config():
            raise _fail(book, entry, f'"free" names {setting!r}, which {type(layer).__name__} layers do not have',
                        f"use a setting of {type(layer).__name__}: see its get_config()")


def _public_block(book: Book, entry: Entry, refs: References, spec: dict[str, Any]) -> str:
    from test_utils import exercises
    from test_utils.layer_summary import summary

    public_spec = {k: v for k, v in spec.items() if k not in ("hidden", "challenge")}  # what the public check uses
    text = [_spec_text("exercise", public_spec)]
    if spec["kind"] == "metric":
        expected = [refs.expected(entry.name, case, None) for case in spec["public"]]
        return "\n".join(text + [f"expected = {_lit(expected)}"])
    wanted = entry.meta.get("summaries", [spec["kind"] == "block"] * len(spec["public"]))
    summaries: list[list[Any] | None] = []
    descriptions = []
    for case, show in zip(spec["public"], wanted):
        descriptions.append(refs.expected(entry.name, case, None))
        summaries.append(summary(exercises.build(refs.specs[entry.name], refs.function(entry.name), case)) if show else None)
    if any(s is not None for s in summaries):
        text.append(_summaries_text(summaries))
    if spec["kind"] == "model" and sorted(dict(spec.get("stand_ins", {})).values()) == ["decoder", "encoder"]:
        from test_utils.unet_wiring import expected_calls, trace_unet  # the calls the solution makes to its blocks

        kwargs = dict(spec["public"][0]["kwargs"])
        kwargs["input_size"] = tuple(kwargs.get("input_size", (96, 128, 3)))
        calls = expected_calls(trace_unet(refs.function(entry.name), **kwargs))
        text.append("expected_calls = {\n" + "".join(
            f"    {_lit(kind)}: [\n" + "".join(f"        {_lit(call)},\n" for call in rows) + "    ],\n"
            for kind, rows in calls.items()) + "}")
    return "\n".join(text + [_structure_text(descriptions)])


def generate(book: Book) -> Generated:
    """The generated blocks and the bundle of one source notebook; a bad definition raises :class:`DefinitionError`."""
    from test_utils import exercises

    bundle: dict[str, Any] = {"schema": exercise_book.BUNDLE_SCHEMA, "notebook": book.stem, "setup": book.setup,
                              "exercises": {}}
    namespace: dict[str, Any] = {"__name__": "__references__"}
    try:
        exec(compile(book.setup, f"<setup cells of {book.path.name}>", "exec"), namespace)
    except Exception as error:
        raise DefinitionError(book.path, None, None, f"the setup cells raise {type(error).__name__}: {error}",
                              "make them run on their own (imports only)") from None
    specs = {}
    for entry in book.entries:
        try:
            exec(compile(entry.solution, f"<solution {entry.name}>", "exec"), namespace)
        except Exception as error:
            raise _fail(book, entry, f"the solution cell raises {type(error).__name__}: {str(error)[:200]}",
                        "fix the solution so that the cell runs") from None
        function = namespace.get(entry.function)
        if function is None:
            raise _fail(book, entry, f"the solution cell defines no {entry.function}",
                        'name the graded function in "function", or define it in the cell')
        specs[entry.name] = _spec(book, entry, function)
        bundle["exercises"][entry.name] = {"spec": specs[entry.name], "solution": entry.solution}
    refs = References(bundle)
    refs._namespace = namespace
    for entry in book.entries:
        spec = refs.specs[entry.name]
        for part in ("public", "hidden"):
            for number, case in enumerate(spec.cases(part), start=1):
                try:
                    value = refs.expected(entry.name, case, None)
                except Exception as error:
                    raise _fail(book, entry, f"the solution cannot build {part} case {number} ({str(error)[:160]})",
                                "change the case or the solution") from None
                if number == 1 and part == "public" and spec.kind != "metric":
                    _check_free(book, entry, exercises.build(spec, refs.function(entry.name), case))
                del value
        for example in entry.meta.get("examples", {}).get("mistakes", []) + [
                {"edits": entry.meta.get("examples", {}).get("alternative", [])}]:
            for old, _new in example.get("edits", []):
                if old not in entry.solution:
                    raise _fail(book, entry, f"an example's edit does not match the solution: {old[:60]!r}",
                                "copy the text exactly from the solution cell")
    cells = {}
    for entry in book.entries:
        cells[f"test_{entry.name}"] = _public_block(book, entry, refs, specs[entry.name])
        cells[f"test_{entry.name}_hidden"] = _spec_text("_exercise", specs[entry.name])
    bundle["frozen"] = compute_frozen(refs)
    return Generated(cells, bundle)


def apply(nb: Any, generated: Generated) -> bool:
    """Fill the generated blocks of ``nb``'s check cells (in place); whether anything changed."""
    changed = False
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in generated.cells:
            new = exercise_book.fill(cell.source, generated.cells[grade_id])
            changed |= new != cell.source
            cell.source = new
    return changed


def write_bundle(root: Path, assignment: str, notebook: str, bundle: dict[str, Any]) -> Path:
    """Write one bundle atomically (mode 0600: the solutions are in it); return its path."""
    path = exercise_book.bundle_path(root, assignment, notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{notebook}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(bundle, fh, indent=1, sort_keys=False)
        fh.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
