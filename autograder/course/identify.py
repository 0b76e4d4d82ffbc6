"""Which assignment a notebook belongs to, from its content rather than its file name.

JupyterLab's *Duplicate* writes ``Image_segmentation_Unet-Copy1.ipynb``, a browser download
``Image_segmentation_Unet (2).ipynb``; both still carry the released notebook's nbgrader cells. A
notebook is matched by the nbgrader ``grade_id``s of its cells, and among equally good matches by
the checksums nbgrader wrote into the locked cells of the release. The notebook is untrusted input:
it is read with a size bound and its JSON is checked field by field.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from collections import Counter
from typing import Any

from autograder.course.directory import Course
from autograder.errors import UserError

__all__ = ["Signature", "MAX_NOTEBOOK_BYTES", "course_signatures", "identify", "read_signature", "recognise"]

#: Largest notebook file read for identification (a notebook with big outputs is still far smaller).
MAX_NOTEBOOK_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Signature:
    """A notebook's nbgrader cells: ``grade_id``s and checksums."""

    ids: frozenset[str]
    checksums: frozenset[str]


def _signature(doc: Any) -> Signature:
    cells = doc.get("cells") if isinstance(doc, dict) else None
    ids: set[str] = set()
    sums: set[str] = set()
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        if not isinstance(nbg, dict):
            continue
        if isinstance(nbg.get("grade_id"), str) and nbg["grade_id"]:
            ids.add(nbg["grade_id"])
        if isinstance(nbg.get("checksum"), str) and nbg["checksum"]:
            sums.add(nbg["checksum"])
    return Signature(frozenset(ids), frozenset(sums))


def read_signature(path: Path) -> Signature:
    """The signature of the notebook file ``path``; a file that is not a notebook is a :class:`UserError`."""
    fix = "pass the .ipynb file you worked on (File > Save, then the path shown in JupyterLab's file browser)"
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})", fix) from None
    if not path.is_file():
        raise UserError(f"{path} is not a file", fix)
    if size == 0:
        raise UserError(f"{path} is empty (0 bytes)", "open it in JupyterLab, save it again, then check it")
    if size > MAX_NOTEBOOK_BYTES:
        raise UserError(f"{path} is {size // 2**20} MiB, larger than any notebook of this course",
                        "clear the outputs (Edit > Clear Outputs of All Cells), save, then check it")
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path} is not a notebook (not JSON)", fix) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise UserError(f"{path} is not a Jupyter notebook (no list of cells)", fix)
    return _signature(doc)


def course_signatures(course: Course) -> dict[tuple[str, str], Signature]:
    """``(assignment, notebook stem) -> Signature`` for the course's released notebooks (else its sources)."""
    found: dict[tuple[str, str], Signature] = {}
    for folder in ("release", "source"):
        for assignment in course.assignments(folder):
            for nb in sorted((course.root / folder / assignment).glob("*.ipynb")):
                key = (assignment, nb.stem)
                if key in found:
                    continue
                try:
                    found[key] = _signature(json.loads(nb.read_bytes()))
                except (OSError, ValueError):
                    continue  # a broken course notebook matches nothing; release would report it
    return found


def identify(notebook: Path, signatures: dict[tuple[str, str], Signature]) -> tuple[str, str]:
    """``(assignment, notebook stem)`` that ``notebook`` was made from.

    The best match shares the most ``grade_id``s with the notebook, then the most checksums. No
    shared ``grade_id``, or a tie between two assignments, is a :class:`UserError` that says what to do.
    """
    mine = read_signature(notebook)
    scored = sorted(((len(mine.ids & sig.ids), len(mine.checksums & sig.checksums), key)
                     for key, sig in signatures.items()), reverse=True)
    if not scored or scored[0][0] == 0:
        known = ", ".join(sorted({f"{a}/{n}.ipynb" for a, n in signatures})) or "none"
        raise UserError(f"{notebook} belongs to no assignment of this course: it has none of their graded "
                        f"cells (nbgrader metadata); the course's notebooks are {known}",
                        "check the notebook you downloaded from release/ and answered, not a copy saved by another tool")
    best = scored[0]
    rivals = [k for ids, sums, k in scored[1:] if (ids, sums) == best[:2] and k[0] != best[2][0]]
    if rivals:
        names = ", ".join(sorted({best[2][0], *(k[0] for k in rivals)}))
        raise UserError(f"{notebook} matches several assignments equally well ({names})",
                        "name the one you mean with --assignment NAME (make check NB=... ASSIGNMENT=NAME)")
    return best[2]


def recognise(notebooks: list[Path], signatures: dict[tuple[str, str], Signature],
              wanted: str | None = None) -> tuple[str, dict[Path, str]]:
    """The assignment ``notebooks`` were made from, and the released stem of each one recognised.

    The one rule for ``check`` and the learning platforms' uploads: each notebook is recognised by its content
    (:func:`identify`), whatever its file name. ``wanted``: the assignment the user named (only its notebooks
    are considered). Notebooks of no assignment are left out while another one is recognised; when none is,
    the first one's problem is the :class:`UserError`, naming the notebooks the course expects.
    """
    known = sorted({assignment for assignment, _ in signatures})
    if wanted is not None:
        if wanted not in known:
            raise UserError(f"assignment {wanted!r} is not in this course", f"use one of: {', '.join(known) or '(none)'}")
        signatures = {key: sig for key, sig in signatures.items() if key[0] == wanted}
    expected = " or ".join(sorted(f"{stem}.ipynb" for _, stem in signatures)) or "a course notebook"
    if not notebooks:
        raise UserError("no notebook (.ipynb file) was handed in", f"hand in {expected}")
    found: dict[Path, tuple[str, str]] = {}
    problems: list[UserError] = []
    for notebook in notebooks:
        try:
            found[notebook] = identify(notebook, signatures)
        except UserError as problem:
            problems.append(problem)
    if not found:
        first = problems[0]
        raise UserError(first.what, f"{first.todo}; this course expects {expected}")
    votes = Counter(assignment for assignment, _ in found.values())
    assignment = votes.most_common(1)[0][0]
    return assignment, {nb: stem for nb, (a, stem) in found.items() if a == assignment}
