"""An assignment's exercises as its instructor wrote them: read from the source notebook, nowhere else.

A graded function is defined by its solution cell (the reference answer) and that cell's ``exercise``
metadata (cases, free settings, challenge ranges, demo examples); the notebook's ``exercises.setup`` names
the cells whose code runs before the solutions. :func:`read` checks all of it and names the notebook, the
cell and the fix when something is wrong. What the release makes from it for the grader (a *bundle* in
``references/<assignment>/<notebook>.json``) is read back with :func:`load_bundles`, which checks it as
untrusted input: it crosses into every grading worker.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from autograder.errors import UserError

__all__ = ["BEGIN", "END", "REFERENCES", "BUNDLE_SCHEMA", "DefinitionError", "Entry", "Book", "read",
           "has_exercises", "bundle_path", "load_bundles", "validate_bundle", "fill", "check_cells"]

BEGIN, END = "### BEGIN GENERATED", "### END GENERATED"
#: Folder of the course root where the release stores what only the grader reads.
REFERENCES = "references"
BUNDLE_SCHEMA = 1
MAX_BUNDLE_BYTES = 5_000_000
KINDS = ("block", "model", "metric")
_KEYS = {"kind", "function", "public", "hidden", "summaries", "challenge", "channels", "outputs", "free",
         "training_mode", "stand_ins", "examples"}
_SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)
_GENERATED = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[ \t]*\n.*?^[ \t]*{re.escape(END)}[ \t]*$", re.MULTILINE | re.DOTALL)


class DefinitionError(UserError):
    """An exercise's definition in a source notebook is wrong; the message names the notebook and the cell."""

    def __init__(self, notebook: Path | str, cell: int | None, grade_id: str | None, what: str, fix: str) -> None:
        where = f"{notebook}" + (f", cell {cell + 1}" if cell is not None else "") + (f" ({grade_id})" if grade_id else "")
        super().__init__(f"{where}: {what}", fix)


@dataclass(frozen=True)
class Entry:
    """One exercise: its name (the solution cell's grade_id), where it is, its metadata and its solution code."""

    name: str
    cell: int
    meta: dict[str, Any]
    solution: str

    @property
    def function(self) -> str:
        """The function or class the solution cell defines."""
        return str(self.meta.get("function") or self.name)


@dataclass(frozen=True)
class Book:
    """A source notebook's exercises, in notebook order, and the code they run after (``setup``)."""

    path: Path
    setup: str
    entries: tuple[Entry, ...]

    @property
    def stem(self) -> str:
        """The notebook's name without ``.ipynb`` (nbgrader's notebook id)."""
        return self.path.stem


def has_exercises(nb: Any) -> bool:
    """Whether a notebook declares exercises (its metadata names setup cells or a cell has ``exercise`` metadata)."""
    return "exercises" in nb.get("metadata", {}) or any("exercise" in c.get("metadata", {}) for c in nb.get("cells", []))


def _grade_id(cell: Any) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _shape(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) and v > 0 for v in value)


def _case_problem(kind: str, case: Any) -> str | None:
    if not isinstance(case, dict):
        return "is not an object"
    if kind == "block":
        if not (isinstance(case.get("inputs"), list) and case["inputs"] and all(_shape(s) for s in case["inputs"])):
            return 'needs "inputs": a list of [height, width, channels]'
        if not isinstance(case.get("kwargs", {}), dict):
            return '"kwargs" is not an object'
    elif kind == "model":
        if not isinstance(case.get("kwargs"), dict):
            return 'needs "kwargs": the keyword arguments of the call'
    elif not (isinstance(case.get("classes"), int) and case["classes"] > 1 and ("batches" in case)):
        return 'needs "classes" (an integer above 1) and "batches"'
    return None


def _check_meta(path: Path, index: int, name: str, meta: Any) -> None:
    def bad(what: str, fix: str) -> DefinitionError:
        return DefinitionError(path, index, name, f"exercise metadata: {what}", fix)

    if not isinstance(meta, dict):
        raise bad("is not an object", 'write {"kind": ..., "public": [...], "hidden": [...]} (README, "Write your own exercise")')
    unknown = sorted(set(meta) - _KEYS)
    if unknown:
        raise bad(f"unknown key {unknown[0]!r}", "use only: " + ", ".join(sorted(_KEYS)))
    kind = meta.get("kind")
    if kind not in KINDS:
        raise bad(f'"kind" is {kind!r}', 'set "kind" to one of ' + ", ".join(KINDS))
    for part in ("public", "hidden"):
        cases = meta.get(part)
        if not isinstance(cases, list) or not cases:
            raise bad(f'"{part}" has no cases', f'give "{part}" a list of at least one case')
        for number, case in enumerate(cases, start=1):
            problem = _case_problem(kind, case)
            if problem:
                raise bad(f"{part} case {number} {problem}", "see the case formats in the README")
    summaries = meta.get("summaries")
    if summaries is not None and not (isinstance(summaries, list) and len(summaries) == len(meta["public"])
                                      and all(isinstance(s, bool) for s in summaries)):
        raise bad('"summaries" is not one true/false per public case', "give one boolean per public case")
    for key, kinds in (("challenge", dict), ("stand_ins", dict), ("outputs", list), ("free", list), ("examples", dict)):
        if key in meta and not isinstance(meta[key], kinds):
            raise bad(f'"{key}" is not a{"n object" if kinds is dict else " list"}', "see the README's metadata table")
    if any(role not in ("encoder", "decoder") for role in meta.get("stand_ins", {}).values()):
        raise bad('a "stand_ins" role is not "encoder" or "decoder"', "map each function name to encoder or decoder")
    if any(not (isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)) for p in meta.get("free", [])):
        raise bad('"free" entries must be [layer class, setting]', 'write e.g. ["Conv2DTranspose", "kernel_initializer"]')
    for example in meta.get("examples", {}).get("mistakes", []):
        if not (isinstance(example, dict) and isinstance(example.get("student"), str) and example.get("edits")):
            raise bad("a mistake example needs \"student\", \"description\" and \"edits\"", "see the README")


def read(path: Path, nb: Any = None) -> Book:
    """The exercises of the source notebook at ``path`` (or of ``nb``, its contents already read);
    a :class:`DefinitionError` names what is wrong."""
    if nb is None:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as error:  # nbformat raises several kinds for a broken file
            raise DefinitionError(path, None, None, f"is not a readable notebook ({type(error).__name__})",
                                  "fix the JSON or restore the file from git") from None
    cells = list(nb.cells)
    by_id = {_grade_id(c): (i, c) for i, c in enumerate(cells) if _grade_id(c)}
    setup_ids = nb.metadata.get("exercises", {}).get("setup", [])
    if not isinstance(setup_ids, list) or not all(isinstance(s, str) for s in setup_ids):
        raise DefinitionError(path, None, None, 'notebook metadata "exercises.setup" is not a list of grade_ids',
                              'write {"exercises": {"setup": ["setup_imports"]}} in the notebook metadata')
    setup = []
    for grade_id in setup_ids:
        if grade_id not in by_id or by_id[grade_id][1].cell_type != "code":
            raise DefinitionError(path, None, None, f"setup cell {grade_id!r} is not a code cell of this notebook",
                                  "name the grade_id of the imports cell in the notebook metadata exercises.setup")
        setup.append(by_id[grade_id][1].source)
    entries: list[Entry] = []
    for index, cell in enumerate(cells):
        meta = cell.get("metadata", {}).get("exercise")
        if meta is None:
            continue
        name = _grade_id(cell)
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution") or not name:
            raise DefinitionError(path, index, name, "exercise metadata on a cell that is not an nbgrader solution "
                                  "code cell", "put it on the answer cell (solution, with a grade_id)")
        if any(e.name == name for e in entries):
            raise DefinitionError(path, index, name, f"two exercises are named {name!r}", "give each answer cell its own grade_id")
        _check_meta(path, index, name, meta)
        entries.append(Entry(name, index, json.loads(json.dumps(meta)), _SOLUTION_MARKERS.sub("", cell.source)))
    if entries and not setup:
        raise DefinitionError(path, None, None, 'no setup cells: the references would run without imports',
                              'write {"exercises": {"setup": ["setup_imports"]}} in the notebook metadata')
    book = Book(path, "\n\n".join(setup), tuple(entries))
    check_cells(book, cells)
    return book


def check_cells(book: Book, cells: list[Any]) -> None:
    """Every exercise has a public and a hidden check cell, each with one generated block."""
    by_id = {_grade_id(c): (i, c) for i, c in enumerate(cells) if _grade_id(c)}
    for entry in book.entries:
        for grade_id in (f"test_{entry.name}", f"test_{entry.name}_hidden"):
            if grade_id not in by_id:
                raise DefinitionError(book.path, entry.cell, entry.name, f"no check cell {grade_id}",
                                      f"add a graded code cell with grade_id {grade_id} (README, \"Write your own exercise\")")
            index, cell = by_id[grade_id]
            if len(_GENERATED.findall(cell.source)) != 1:
                raise DefinitionError(book.path, index, grade_id, f"needs exactly one {BEGIN} / {END} pair",
                                      "add the two marker lines where the expected data belongs")


def fill(source: str, text: str) -> str:
    """``source`` with the lines between the generated markers replaced by ``text`` (indented like the marker)."""
    def replace(match: re.Match[str]) -> str:
        indent = match.group(1)
        body = "".join(f"{indent}{line}\n" if line else "\n" for line in text.splitlines())
        return f"{indent}{BEGIN}\n{body}{indent}{END}"

    return _GENERATED.sub(replace, source, count=1)


# ------------------------------------------------------------------------------------------ bundles

def bundle_path(root: Path, assignment: str, notebook: str) -> Path:
    """Where the release stores the grader's bundle of one notebook."""
    return root / REFERENCES / assignment / f"{notebook}.json"


def validate_bundle(data: Any, where: str) -> dict[str, Any]:
    """Check a bundle's shape field by field; a bad one is a :class:`UserError` naming ``where``."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise UserError(f"{where}: {what}", "regenerate it: python -m autograder release ASSIGNMENT")

    need(isinstance(data, dict) and data.get("schema") == BUNDLE_SCHEMA, f"not a bundle of schema {BUNDLE_SCHEMA}")
    need(isinstance(data.get("setup"), str) and isinstance(data.get("exercises"), dict), "setup or exercises missing")
    need(isinstance(data.get("frozen", {}), dict), "frozen references are not an object")
    for name, item in data["exercises"].items():
        need(isinstance(name, str) and isinstance(item, dict) and isinstance(item.get("solution"), str)
             and isinstance(item.get("spec"), dict) and item["spec"].get("kind") in KINDS
             and item["spec"].get("name") == name, f"exercise {name!r} is malformed")
    return data


def load_bundles(root: Path, assignment: str) -> dict[str, dict[str, Any]]:
    """notebook -> bundle, for every bundle the release stored for ``assignment`` (none: an empty dict)."""
    folder = root / REFERENCES / assignment
    bundles: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return bundles
    for path in sorted(folder.glob("*.json")):
        if path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise UserError(f"{path}: larger than {MAX_BUNDLE_BYTES} bytes", "regenerate it: python -m autograder release")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UserError(f"{path}: not readable JSON ({type(error).__name__})",
                            f"regenerate it: python -m autograder release {assignment}") from None
        bundles[path.stem] = validate_bundle(data, str(path))
    return bundles
