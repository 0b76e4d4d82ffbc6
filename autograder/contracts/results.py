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

A result file is untrusted input (it may come from a container or another machine): :func:`read`
validates it field by field and raises :class:`ContractError` naming the file and the field. Ids are
single safe path components, ``autograded_dir`` stays inside the file's folder, numbers are finite
and in range, nested values have the documented types, sizes are bounded (``MAX_*``); the graded
folder is checked when it is copied (:func:`check_graded_dir`: no links, FIFOs or devices).
"""
from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder.contracts.fields import (MAX_NAME, MAX_PATH, ContractError, check_id, check_mapping, check_number,
                                         check_text, is_component, read_json, show, write_json)

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


#: Limits on what a result may hold (a real one is a few KiB).
MAX_FILE_BYTES = 4 * 2**20
MAX_NOTEBOOKS = 64
MAX_CELLS = 1000            # graded cells, and commented cells, per notebook
MAX_REASON = 10_000
MAX_COMMENT = 100_000
MAX_TIMESTAMP = 64
MAX_FINGERPRINT = 128
#: Limits on the graded folder a result points to.
MAX_GRADED_ENTRIES = 10_000
MAX_GRADED_DEPTH = 32
MAX_GRADED_BYTES = 2 * 2**30

def _timestamp(value: Any) -> str | None:
    text = check_text(value, "timestamp", MAX_TIMESTAMP, allow_none=True)
    if text:
        from nbgrader.utils import parse_utc  # the parser store.write_gradebook uses

        try:
            parse_utc(text)
        except Exception:  # dateutil raises several kinds on odd input
            raise ContractError(f"timestamp {show(text)} is not a date") from None
    return text


def _relative_path(value: Any, what: str) -> str | None:
    text = check_text(value, what, MAX_PATH, allow_none=True)
    if text is None:
        return None
    if text.startswith(("/", "\\")) or not all(is_component(part) for part in text.split("/")):
        raise ContractError(f"{what} {show(text)} is not a relative path of plain names")
    return text


def _notebook(name: Any, nb: Any) -> NotebookResult:
    if not is_component(name):
        raise ContractError(f"notebook name {show(name)} is not a safe name")
    where = f"notebooks.{name}"
    if not isinstance(nb, dict):
        raise ContractError(f"{where} must be an object, got {type(nb).__name__}")
    grades: dict[str, CellGrade] = {}
    for cell, g in check_mapping(nb.get("grades"), f"{where}.grades", MAX_CELLS).items():
        _cell_name(cell, f"{where}.grades")
        if not isinstance(g, dict):
            raise ContractError(f"{where}.grades.{cell} must be an object, got {type(g).__name__}")
        max_score = check_number(g.get("max_score"), f"{where}.grades.{cell}.max_score", low=0.0)
        auto = check_number(g.get("auto_score"), f"{where}.grades.{cell}.auto_score", allow_none=True, low=0.0, high=max_score)
        grades[cell] = CellGrade(auto, max_score)  # type: ignore[arg-type]
    comments: dict[str, str | None] = {}
    for cell, text in check_mapping(nb.get("comments"), f"{where}.comments", MAX_CELLS).items():
        _cell_name(cell, f"{where}.comments")
        comments[cell] = check_text(text, f"{where}.comments.{cell}", MAX_COMMENT, allow_none=True)
    penalty = check_number(nb.get("late_penalty"), f"{where}.late_penalty", allow_none=True, low=0.0)
    return NotebookResult(grades, comments, penalty)


def _cell_name(name: Any, where: str) -> None:
    if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME and name.isprintable()):
        raise ContractError(f"{where}: cell name {show(name)} is not a printable name of at most {MAX_NAME} characters")


def from_json(data: Any, file: str | os.PathLike[str] | None = None) -> Result:
    """Parse and validate a result dict, field by field.

    Raise :class:`ContractError` naming ``file`` (when given) and the field when it is malformed.
    Unknown keys are ignored.
    """
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ContractError("not an autograder result (missing format header)")
        if isinstance(data.get("version"), bool) or data.get("version") != VERSION:
            raise ContractError(f"unsupported result version {show(data.get('version'))}")
        status = data.get("status")
        if not isinstance(status, str) or status not in STATUSES:
            raise ContractError(f"unknown status {show(status)}")
        assignment = check_id(data.get("assignment"), "assignment")
        student = check_id(data.get("student"), "student")
        notebooks_in = check_mapping(data.get("notebooks"), "notebooks", MAX_NOTEBOOKS)
        notebooks = {name: _notebook(name, nb) for name, nb in notebooks_in.items()}
        return Result(
            assignment=assignment, student=student, status=status,
            reason=check_text(data.get("reason", ""), "reason", MAX_REASON, allow_none=True) or "",
            timestamp=_timestamp(data.get("timestamp")),
            fingerprint=check_text(data.get("fingerprint", ""), "fingerprint", MAX_FINGERPRINT, allow_none=True) or "",
            duration_s=check_number(data.get("duration_s", 0.0), "duration_s", low=0.0) or 0.0,
            autograded_dir=_relative_path(data.get("autograded_dir"), "autograded_dir"), notebooks=notebooks,
        )
    except ContractError as exc:
        if file is not None and exc.file is None:
            raise ContractError(exc.reason, file) from None
        raise


def write(path: Path, result: Result) -> None:
    """Write a result atomically (see :func:`write_json`)."""
    write_json(path, result.to_json())


def read(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Result:
    """Read and validate a result file; any problem is a :class:`ContractError` naming the file.

    The file must be a regular file (not a link, FIFO or device) of at most ``max_bytes``, hold
    strict JSON (no NaN/Infinity), and its ``autograded_dir`` must stay inside the file's folder
    once links are resolved.
    """
    path = Path(path)
    data = read_json(path, max_bytes)
    result = from_json(data, path)
    if result.autograded_dir is not None:
        base = path.parent.resolve()
        if not (base / result.autograded_dir).resolve().is_relative_to(base):
            raise ContractError(f"autograded_dir {show(result.autograded_dir)} leaves the folder of the result", path)
    return result


def check_graded_dir(folder: Path, file: str | os.PathLike[str] | None = None) -> None:
    """Reject a graded folder that holds anything but plain folders and regular files.

    Symbolic links (the folder itself included), FIFOs, sockets and device files are errors,
    never followed; so are folders nested deeper than ``MAX_GRADED_DEPTH``, more than
    ``MAX_GRADED_ENTRIES`` entries or more than ``MAX_GRADED_BYTES``. A missing folder is fine.
    """
    folder = Path(folder)
    try:
        top = os.lstat(folder)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ContractError(f"graded folder cannot be read ({exc.strerror})", file) from None
    if stat.S_ISLNK(top.st_mode):
        raise ContractError("graded folder is a symbolic link", file)
    if not stat.S_ISDIR(top.st_mode):
        raise ContractError("graded folder is not a folder", file)
    entries, size = 0, 0
    todo = [(folder, 0)]
    while todo:
        current, depth = todo.pop()
        try:
            with os.scandir(current) as it:
                children = list(it)
        except OSError as exc:
            raise ContractError(f"graded folder cannot be read ({exc.strerror})", file) from None
        for entry in children:
            rel = show(os.path.relpath(entry.path, folder))
            entries += 1
            if entries > MAX_GRADED_ENTRIES:
                raise ContractError(f"graded folder has more than {MAX_GRADED_ENTRIES} entries", file)
            try:
                mode = entry.stat(follow_symlinks=False)
            except OSError as exc:
                raise ContractError(f"graded file {rel} cannot be read ({exc.strerror})", file) from None
            if stat.S_ISLNK(mode.st_mode):
                raise ContractError(f"graded folder holds a symbolic link {rel}", file)
            if stat.S_ISDIR(mode.st_mode):
                if depth + 1 > MAX_GRADED_DEPTH:
                    raise ContractError(f"graded folder is nested deeper than {MAX_GRADED_DEPTH} levels", file)
                todo.append((Path(entry.path), depth + 1))
            elif stat.S_ISREG(mode.st_mode):
                size += mode.st_size
                if size > MAX_GRADED_BYTES:
                    raise ContractError(f"graded folder holds more than {MAX_GRADED_BYTES} bytes", file)
            else:
                raise ContractError(f"graded folder holds a special file (FIFO, socket or device) {rel}", file)
