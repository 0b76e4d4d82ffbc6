"""The per-submission result: the only thing that crosses a process boundary (as JSON).

A worker (or a grading container, later) writes one result file per submission; the parent
process (``grade``) or ``collect`` reads it and writes it into the course gradebook. The
format, version 1::

    {
      "format": "autograder-result",
      "version": 1,
      "assignment": "unet",
      "student": "alice",
      "status": "graded",            # see STATUSES
      "reason": "",                  # one line for grades.csv and the feedback; "" when graded
      "timestamp": "2024-01-01 10:00:00.000000 UTC" | null,   # submission time (timestamp.txt)
      "fingerprint": "sha256 of the submitted files",
      "duration_s": 12.3,
      "autograded_dir": "autograded" | null,   # relative to the JSON file: the graded notebooks
      "notebooks": {
        "Image_segmentation_Unet": {
          "late_penalty": 0.0 | null,
          "grades": {"test_conv_block": {"auto_score": 10.0, "max_score": 10.0}, ...},
          "comments": {"conv_block": "No response." | null, ...}
        }
      }
    }

``auto_score`` is ``null`` for cells nbgrader cannot grade automatically (manually graded
answers). Only JSON is used: a result never executes anything when it is read.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "autograder-result"
VERSION = 1

#: status code -> meaning. Every status but ``graded`` comes with a reason.
STATUSES: dict[str, str] = {
    "graded": "graded normally",
    "restored": "graded after nbgrader restored edited or deleted test cells",
    "timeout": "a cell or the whole submission ran past its time limit",
    "memory": "the submission ran out of memory",
    "huge_output": "graded; outputs were cut because they were too long",
    "kernel_died": "the Python kernel died while running the notebook",
    "no_notebook": "the notebook is missing or has the wrong name",
    "invalid_notebook": "the notebook file is empty, not JSON or not a notebook",
    "wrong_assignment": "the notebook belongs to another assignment",
    "too_large": "the submitted notebook file is too large",
    "disk_full": "the notebook filled the disk space it is given",
    "error": "the autograder failed on this submission",
}


@dataclass
class CellGrade:
    """One graded cell's automatic score."""

    auto_score: float | None
    max_score: float


@dataclass
class NotebookResult:
    """The automatic grades and comments of one notebook."""

    grades: dict[str, CellGrade] = field(default_factory=dict)
    comments: dict[str, str | None] = field(default_factory=dict)
    late_penalty: float | None = None


@dataclass
class Result:
    """Everything the gradebook needs about one graded submission."""

    assignment: str
    student: str
    status: str
    reason: str = ""
    timestamp: str | None = None
    fingerprint: str = ""
    duration_s: float = 0.0
    autograded_dir: str | None = None
    notebooks: dict[str, NotebookResult] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (with the format header)."""
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    @property
    def score(self) -> float:
        """Sum of the automatic scores (unscored cells count zero)."""
        return sum(g.auto_score or 0.0 for nb in self.notebooks.values() for g in nb.grades.values())


class ResultError(ValueError):
    """A result file that does not follow the format."""


def _number(value: Any, what: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def from_json(data: Any) -> Result:
    """Parse and validate a result dict; raise :class:`ResultError` when it is malformed."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ResultError("not an autograder result (missing format header)")
    if data.get("version") != VERSION:
        raise ResultError(f"unsupported result version {data.get('version')!r}")
    status = data.get("status")
    if status not in STATUSES:
        raise ResultError(f"unknown status {status!r}")
    for key in ("assignment", "student"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ResultError(f"{key} must be a non-empty string")
    notebooks: dict[str, NotebookResult] = {}
    for name, nb in (data.get("notebooks") or {}).items():
        grades = {}
        for cell, g in (nb.get("grades") or {}).items():
            max_score = _number(g.get("max_score"), f"{name}/{cell} max_score")
            auto = _number(g.get("auto_score"), f"{name}/{cell} auto_score", allow_none=True)
            if auto is not None and not 0 <= auto <= max_score:  # type: ignore[operator]
                raise ResultError(f"{name}/{cell} auto_score {auto} outside 0..{max_score}")
            grades[cell] = CellGrade(auto, max_score)  # type: ignore[arg-type]
        comments = {str(k): (None if v is None else str(v)) for k, v in (nb.get("comments") or {}).items()}
        penalty = _number(nb.get("late_penalty"), f"{name} late_penalty", allow_none=True)
        notebooks[str(name)] = NotebookResult(grades, comments, penalty)
    return Result(
        assignment=data["assignment"], student=data["student"], status=status,
        reason=str(data.get("reason") or ""), timestamp=data.get("timestamp"),
        fingerprint=str(data.get("fingerprint") or ""),
        duration_s=float(_number(data.get("duration_s", 0.0), "duration_s") or 0.0),
        autograded_dir=data.get("autograded_dir"), notebooks=notebooks,
    )


def write(path: Path, result: Result) -> None:
    """Write a result atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(result.to_json(), fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read(path: Path, max_bytes: int = 16 * 2**20) -> Result:
    """Read and validate a result file."""
    if path.stat().st_size > max_bytes:
        raise ResultError(f"{path} is larger than {max_bytes} bytes")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ResultError(f"{path}: {exc}") from exc
    return from_json(data)
