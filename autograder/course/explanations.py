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

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = ["Failure", "leading_sentence", "MAX_LINES", "MAX_LINE_CHARS", "MIN_SECRET_CHARS", "explain", "failures", "hidden_lines",
           "is_hidden", "quotes", "read_failures", "MAX_NOTEBOOK_BYTES"]

#: At most this many explanation lines per cell, each at most this long.
MAX_LINES = 20
MAX_LINE_CHARS = 400
#: A hidden-region line shorter than this (stripped) is too common to count as the check's code (``)``, ``else:``).
MIN_SECRET_CHARS = 12
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: ``ename`` values the grader's judge writes (see autograder.run.judge.preprocessor).
_JUDGE = {"GraderVerdict": "verdict", "GraderEvidenceError": "evidence"}
#: Errors raised by the checks themselves; their message is the explanation.
_CHECK_ERRORS = {"AssertionError", "CheckFailed"}
#: Largest graded notebook read for its explanations (outputs are bounded while grading, so far larger).
MAX_NOTEBOOK_BYTES = 64 * 2**20
#: What replaces an explanation line that quotes a hidden check.
_QUOTED = "(a line that quotes the hidden check was left out)"


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

    @property
    def cause(self) -> str:
        """The first finding without where it was seen: ``(case 1: ...)``, ``(and 2 more differences)``.

        The public check and the grader's verdict say the same leading sentence for the same mistake; only
        these trailers differ, so a report groups failures by this.
        """
        return leading_sentence(self.first)

    def text(self) -> str:
        """All lines, one per line."""
        return "\n".join(self.lines)


_TRAILERS = re.compile(r"^(case \d+: |at other sizes: |and \d+ more differences?$)")


def leading_sentence(line: str) -> str:
    """``line`` without a trailing ``(case N: ...)``, ``(at other sizes: ...)`` or ``(and N more differences)``."""
    text = line.rstrip()
    for _ in range(2):
        if not text.endswith(")"):
            break
        depth = 0
        for position in range(len(text) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(text[position], 0)
            if depth == 0:
                break
        inner = text[position + 1:-1]
        if depth != 0 or not _TRAILERS.match(inner):
            break
        text = text[:position].rstrip()
    return text


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
    return (isinstance(gid, str) and gid.endswith("_hidden")) or "BEGIN HIDDEN TESTS" in _source(cell)


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source")
    return "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else (
        source if isinstance(source, str) else "")


_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.MULTILINE | re.DOTALL)


def hidden_lines(nb: Mapping[str, Any]) -> frozenset[str]:
    """The lines of ``nb``'s hidden checks that must never reach a student, stripped.

    A line counts when it lies in a ``### BEGIN HIDDEN TESTS`` region (or anywhere in a hidden cell
    without one), has at least :data:`MIN_SECRET_CHARS` characters, and is not also a line of a
    cell the student sees (a public check or the student's own code: those are no secret).
    """
    cells = [c for c in nb.get("cells", []) if isinstance(c, Mapping)] if isinstance(nb.get("cells"), list) else []
    secret: set[str] = set()
    public: set[str] = set()
    for cell in cells:
        source = _source(cell)
        if is_hidden(cell):
            regions = _REGION.findall(source) or ([] if "BEGIN HIDDEN TESTS" in source else [source])
            secret.update(line.strip() for region in regions for line in region.splitlines())
        else:
            public.update(line.strip() for line in source.splitlines())
    return frozenset(line for line in secret - public if len(line) >= MIN_SECRET_CHARS)


def quotes(text: str, secret: Iterable[str]) -> bool:
    """Whether ``text`` contains one of the ``secret`` lines (after removing terminal colours)."""
    plain = _clean(text)
    return any(line in plain for line in secret)


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
    it is what stopped the cell. An explanation line that quotes a hidden check's code (a student's function can raise with its
    caller's source as the message) is replaced, so no explanation carries the hidden checks.
    """
    secret = hidden_lines(nb)
    found: dict[str, Failure] = {}
    for gid, cell in _graded_cells(nb):
        outputs = cell.get("outputs")
        for output in outputs if isinstance(outputs, list) else []:
            if isinstance(output, Mapping) and output.get("output_type") == "error" and gid not in found:
                failure = explain(gid, output)
                if secret and any(quotes(line, secret) for line in failure.lines):
                    lines = tuple(_QUOTED if quotes(line, secret) else line for line in failure.lines)
                    failure = Failure(gid, failure.kind, failure.ename, lines)
                found[gid] = failure
    return found


def read_failures(folder: Path, notebooks: Iterable[str]) -> tuple[dict[str, dict[str, Failure]], bool]:
    """The failures of the graded notebooks ``folder/<name>.ipynb``: notebook -> grade_id -> :class:`Failure`.

    Also whether every one of them could be read. A graded notebook that is missing, a link, larger
    than :data:`MAX_NOTEBOOK_BYTES` or not JSON explains nothing (the caller's status or scores say why).
    """
    found: dict[str, dict[str, Failure]] = {}
    readable = True
    for name in notebooks:
        path = folder / f"{name}.ipynb"
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_NOTEBOOK_BYTES:
                readable = False
                continue
            doc: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            readable = False
            continue
        if not isinstance(doc, dict):
            readable = False
            continue
        found[name] = failures(doc)
    return found, readable
