"""What a failed check cell says: its explanation lines, never the check's source.

A graded check cell fails in one of three ways, each leaving an ``error`` output in the graded
notebook: the checks in the kernel raised (``test_utils`` explains the mismatch in the exception's
message, one requirement per line), the grader's judge found the evidence wrong (``GraderVerdict``)
or unreadable (``GraderEvidenceError``), or the student's code raised something else on the way
(``NameError``, ``NotImplementedError`` ...). The explanation is taken from the error's name and
message only; tracebacks quote the cell's source and are never used. Everything here reads
untrusted notebook JSON, so types are checked and sizes bounded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

__all__ = ["Failure", "MAX_LINES", "MAX_LINE_CHARS", "explain", "failures", "is_hidden"]

#: At most this many explanation lines per cell, each at most this long.
MAX_LINES = 20
MAX_LINE_CHARS = 400
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: ``ename`` values the grader's judge writes (see autograder.run.judge.preprocessor).
_JUDGE = {"GraderVerdict": "verdict", "GraderEvidenceError": "evidence"}
#: Errors raised by the checks themselves; their message is the explanation.
_CHECK_ERRORS = {"AssertionError", "CheckFailed"}


@dataclass(frozen=True)
class Failure:
    """Why one graded cell failed.

    ``kind``: ``"verdict"`` (the judge's comparison), ``"evidence"`` (the judge could not read the
    cell's evidence), ``"check"`` (a check in the kernel found a mismatch) or ``"error"`` (the code
    raised something else). ``lines``: the explanation, plain text, one finding per line.
    """

    grade_id: str
    kind: str
    ename: str
    lines: tuple[str, ...]

    @property
    def first(self) -> str:
        """The first finding: a check's heading line ("... does not match ...:") is skipped for the line under it."""
        if not self.lines:
            return f"{self.ename} was raised"
        if len(self.lines) > 1 and self.lines[0].endswith(":"):
            return self.lines[1]
        return self.lines[0]

    def text(self) -> str:
        """All lines, one per line."""
        return "\n".join(self.lines)


def _clean(text: str) -> str:
    return _ANSI.sub("", text).replace("\r", "")


def _lines(message: str) -> list[str]:
    out = []
    for raw in _clean(message).split("\n"):
        line = raw.strip()
        if line.startswith("- "):
            line = line[2:].strip()
        if line:
            out.append(line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…")
        if len(out) >= MAX_LINES:
            out.append("(more lines left out)")
            break
    return out


def explain(grade_id: str, output: Mapping[str, Any]) -> Failure:
    """The :class:`Failure` an ``error`` output stands for (its ``ename``/``evalue`` only)."""
    ename = output.get("ename")
    evalue = output.get("evalue")
    ename = _clean(ename)[:100] if isinstance(ename, str) and ename else "Error"
    evalue = evalue[:50_000] if isinstance(evalue, str) else ""
    kind = _JUDGE.get(ename) or ("check" if ename in _CHECK_ERRORS else "error")
    lines = _lines(evalue)
    if kind == "error":
        # "NameError: name 'x' is not defined": the error's own name says what kind of mistake it is
        lines = [f"{ename}: {lines[0]}" if lines else ename, *lines[1:]]
    return Failure(grade_id=grade_id, kind=kind, ename=ename, lines=tuple(lines))


def is_hidden(cell: Mapping[str, Any]) -> bool:
    """Whether a check cell holds hidden checks (its grade_id ends in ``_hidden``, or its source has a hidden region)."""
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, Mapping) else None
    gid = nbg.get("grade_id") if isinstance(nbg, Mapping) else None
    source = cell.get("source")
    source = "".join(source) if isinstance(source, list) else source if isinstance(source, str) else ""
    return (isinstance(gid, str) and gid.endswith("_hidden")) or "BEGIN HIDDEN TESTS" in source


def _graded_cells(nb: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    cells = nb.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, Mapping) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, Mapping) else None
        if not isinstance(nbg, Mapping) or not nbg.get("grade"):
            continue
        gid = nbg.get("grade_id")
        if isinstance(gid, str) and gid:
            yield gid, cell


def failures(nb: Mapping[str, Any]) -> dict[str, Failure]:
    """grade_id -> :class:`Failure` for every graded code cell of ``nb`` that has an error output.

    When a cell has several error outputs (the kernel's, then the judge's), the first one is kept:
    it is what stopped the cell.
    """
    found: dict[str, Failure] = {}
    for gid, cell in _graded_cells(nb):
        outputs = cell.get("outputs")
        for output in outputs if isinstance(outputs, list) else []:
            if isinstance(output, Mapping) and output.get("output_type") == "error":
                found.setdefault(gid, explain(gid, output))
    return found
