"""Checks on a submitted notebook before anything runs, and on the graded notebook after.

Untrusted files are only parsed here (in the worker process, never in the parent).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import utils as nbutils

from autograder.course.definition import NotebookDef
from autograder.run.nbhooks import TRUNCATED

NBGRADER_TRUNCATED = "... Output truncated ..."


@dataclass
class Verdict:
    """What triage found in one notebook: a fatal status, or notes for a graded one."""

    status: str | None = None  # fatal status: the notebook is not executed
    reason: str = ""
    edited: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def baseline(release_notebook: Path) -> dict[str, str]:
    """grade_id -> checksum of the locked cells as released (hidden tests already removed)."""
    if not release_notebook.is_file():
        return {}
    nb = nbformat.read(release_notebook, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: _checksum(c) or "" for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}


def check_notebook(path: Path, nbdef: NotebookDef, max_bytes: int, released: dict[str, str] | None = None) -> Verdict:
    """Decide whether ``path`` is a gradable notebook of this assignment.

    Locked cells are compared with the released notebook (``released``: grade_id -> checksum);
    without it, with the source, skipping cells that hold hidden tests.
    """
    name = path.name
    folder = path.parent
    if path.is_symlink():
        return Verdict("invalid_notebook", f"{name} is a symbolic link, not a notebook file")
    if not path.exists():
        others = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        hint = f"; found {', '.join(others)} instead" if others else ""
        return Verdict("no_notebook", f"{name} was not submitted{hint}")
    if not path.is_file():
        return Verdict("invalid_notebook", f"{name} is not a regular file")
    size = path.stat().st_size
    if size == 0:
        return Verdict("invalid_notebook", f"{name} is an empty file")
    if size > max_bytes:
        return Verdict("too_large", f"{name} is {size // 2**20} MiB, more than the {max_bytes // 2**20} MiB allowed")
    try:
        raw = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        return Verdict("invalid_notebook", f"{name} is not valid JSON ({_short(exc)})")
    try:
        if not isinstance(raw, dict) or "cells" not in raw:
            raise ValueError("no cells")
        nb = nbformat.reads(json.dumps(raw), as_version=nbformat.NO_CONVERT)
        if nb.nbformat < 4:
            nb = nbformat.convert(nb, 4)
    except Exception as exc:  # nbformat raises many kinds on malformed notebooks
        return Verdict("invalid_notebook", f"{name} is not a Jupyter notebook ({_short(exc)})")
    submitted = {}
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            submitted[gid] = cell
    known = {c["name"] for c in nbdef.source_cells}
    if known and not known & set(submitted):
        return Verdict("wrong_assignment", f"{name} has none of this assignment's cells; it belongs to another assignment")
    verdict = Verdict()
    for src in nbdef.source_cells:
        if not src["locked"]:
            continue
        cell = submitted.get(src["name"])
        if cell is None:
            verdict.deleted.append(src["name"])
        elif cell.get("cell_type") != src["cell_type"]:
            verdict.edited.append(src["name"])
        elif released and src["name"] in released:
            if _checksum(cell) != released[src["name"]]:
                verdict.edited.append(src["name"])
        elif "BEGIN HIDDEN TESTS" not in (src["source"] or "") and _checksum(cell) != src["checksum"]:
            verdict.edited.append(src["name"])
    return verdict


def _checksum(cell: nbformat.NotebookNode) -> str | None:
    try:
        return nbutils.compute_checksum(cell)
    except Exception:
        return None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def restored_reason(verdicts: dict[str, Verdict]) -> str:
    """One line naming the test cells nbgrader put back."""
    parts = []
    for v in verdicts.values():
        if v.edited:
            parts.append("edited " + ", ".join(v.edited))
        if v.deleted:
            parts.append("deleted " + ", ".join(v.deleted))
    return ("locked cells restored from the source before grading: " + "; ".join(parts)) if parts else ""


def scan_outputs(path: Path) -> tuple[str | None, str]:
    """Status and reason from a graded notebook's outputs (timeouts, memory errors, cut outputs)."""
    nb = nbformat.read(path, as_version=4)
    timeouts, memory, cut, order = [], [], [], []
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {cell.get('id', '?')}"
        order.append(gid)
        # a cell whose flood of output the autograder cut was interrupted by it: a lost reply is not the cell's timeout,
        # nor is the MemoryError its own output buffers raised
        flooded = any(TRUNCATED in str(out.get("text", "")) for out in cell.get("outputs", []))
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") == "CellTimeoutError" and not flooded:
                    timeouts.append(gid)
                elif out.get("ename") == "MemoryError" and not flooded:  # the flood's own buffers, already cut
                    memory.append(gid)
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            if NBGRADER_TRUNCATED in text or TRUNCATED in text or TRUNCATED in str(out.get("data", "")):
                cut.append(gid)
    if cut and (not timeouts or order.index(cut[0]) <= order.index(timeouts[0])):
        # the flood came first: a cell that then ran past its limit was waiting on the cut flood's kernel (the
        # interrupt can arrive after the flooded cell ended, on a busy machine), a consequence, not a second cause
        later = f"; then a time limit in {', '.join(dict.fromkeys(timeouts))}" if timeouts else ""
        return "huge_output", f"{path.stem}: output cut in {', '.join(dict.fromkeys(cut))}{later}"
    if timeouts:
        return "timeout", f"{path.stem}: ran past the per-cell time limit in {', '.join(dict.fromkeys(timeouts))}"
    if memory:
        return "memory", f"{path.stem}: MemoryError in {', '.join(dict.fromkeys(memory))}"
    if cut:
        return "huge_output", f"{path.stem}: output cut in {', '.join(dict.fromkeys(cut))}"
    return None, ""
