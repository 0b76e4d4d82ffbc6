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
validates it field by field and raises :class:`ResultError` naming the file and the field. Ids are
single safe path components, ``autograded_dir`` stays inside the file's folder, numbers are finite
and in range, nested values have the documented types, sizes are bounded (``MAX_*``); the graded
folder is checked when it is copied (:func:`check_graded_dir`: no links, FIFOs or devices).
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
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
    """A result file (or the graded folder it points to) that does not follow the format.

    ``str()`` is ``"FILE: REASON"`` when the file is known, else ``REASON``; both are one line.
    """

    def __init__(self, reason: str, file: str | os.PathLike[str] | None = None) -> None:
        self.reason = reason
        self.file = None if file is None else show_path(file)
        super().__init__(f"{self.file}: {reason}" if self.file else reason)


#: Limits on what a result may hold (a real one is a few KiB).
MAX_FILE_BYTES = 4 * 2**20
MAX_ID = 64                 # student and assignment ids (nbgrader ids)
MAX_NAME = 128              # notebook and cell names (nbgrader's column width)
MAX_NOTEBOOKS = 64
MAX_CELLS = 1000            # graded cells, and commented cells, per notebook
MAX_REASON = 10_000
MAX_COMMENT = 100_000
MAX_TIMESTAMP = 64
MAX_FINGERPRINT = 128
MAX_PATH = 1024
#: Limits on the graded folder a result points to.
MAX_GRADED_ENTRIES = 10_000
MAX_GRADED_DEPTH = 32
MAX_GRADED_BYTES = 2 * 2**30

_ID = re.compile(r"[A-Za-z0-9._-]{1,%d}" % MAX_ID)


def _show(value: Any, limit: int = 80) -> str:
    """A value as it may appear in a one-line message: quoted and escaped (``repr``), cut."""
    if value is not None and not isinstance(value, (str, int, float)):
        return f"<{type(value).__name__}>"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def show_path(file: str | os.PathLike[str]) -> str:
    """A file name as it may appear in a one-line message (escaped when not printable)."""
    name = os.fspath(file)
    return name if name.isprintable() else ascii(name)


def is_safe_id(value: Any) -> bool:
    """A student or assignment id usable as one path component: ``[A-Za-z0-9._-]``, at most 64, not hidden."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None and not value.startswith(".")


def _is_component(value: Any) -> bool:
    """A printable name usable as one path component (no separators, not ``.``/``..``, not hidden)."""
    return (isinstance(value, str) and 0 < len(value) <= MAX_NAME and value.isprintable()
            and "/" not in value and "\\" not in value and not value.startswith("."))


def _safe_id(value: Any, what: str) -> str:
    if not is_safe_id(value):
        raise ResultError(f"{what} {_show(value)} is not a safe id")
    return value


def _text(value: Any, what: str, limit: int, allow_none: bool = False) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ResultError(f"{what} must be a string{' or null' if allow_none else ''}, got {type(value).__name__}")
    if len(value) > limit:
        raise ResultError(f"{what} is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ResultError(f"{what} is not valid text (lone surrogate)") from None
    return value


def _number(value: Any, what: str, allow_none: bool = False, low: float | None = None,
            high: float | None = None) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ResultError(f"{what} must be a finite number{' or null' if allow_none else ''}, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ResultError(f"{what} must be a finite number, got {_show(value)}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise ResultError(f"{what} {number:g} outside {low if low is not None else '-inf'}..{high if high is not None else 'inf'}")
    return number


def _dict(value: Any, what: str, limit: int) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ResultError(f"{what} must be an object, got {type(value).__name__}")
    if len(value) > limit:
        raise ResultError(f"{what} has more than {limit} entries")
    return value


def _timestamp(value: Any) -> str | None:
    text = _text(value, "timestamp", MAX_TIMESTAMP, allow_none=True)
    if text:
        from nbgrader.utils import parse_utc  # the parser store.write_gradebook uses

        try:
            parse_utc(text)
        except Exception:  # dateutil raises several kinds on odd input
            raise ResultError(f"timestamp {_show(text)} is not a date") from None
    return text


def _relative_path(value: Any, what: str) -> str | None:
    text = _text(value, what, MAX_PATH, allow_none=True)
    if text is None:
        return None
    if text.startswith(("/", "\\")) or not all(_is_component(part) for part in text.split("/")):
        raise ResultError(f"{what} {_show(text)} is not a relative path of plain names")
    return text


def _notebook(name: Any, nb: Any) -> NotebookResult:
    if not _is_component(name):
        raise ResultError(f"notebook name {_show(name)} is not a safe name")
    where = f"notebooks.{name}"
    if not isinstance(nb, dict):
        raise ResultError(f"{where} must be an object, got {type(nb).__name__}")
    grades: dict[str, CellGrade] = {}
    for cell, g in _dict(nb.get("grades"), f"{where}.grades", MAX_CELLS).items():
        _cell_name(cell, f"{where}.grades")
        if not isinstance(g, dict):
            raise ResultError(f"{where}.grades.{cell} must be an object, got {type(g).__name__}")
        max_score = _number(g.get("max_score"), f"{where}.grades.{cell}.max_score", low=0.0)
        auto = _number(g.get("auto_score"), f"{where}.grades.{cell}.auto_score", allow_none=True, low=0.0, high=max_score)
        grades[cell] = CellGrade(auto, max_score)  # type: ignore[arg-type]
    comments: dict[str, str | None] = {}
    for cell, text in _dict(nb.get("comments"), f"{where}.comments", MAX_CELLS).items():
        _cell_name(cell, f"{where}.comments")
        comments[cell] = _text(text, f"{where}.comments.{cell}", MAX_COMMENT, allow_none=True)
    penalty = _number(nb.get("late_penalty"), f"{where}.late_penalty", allow_none=True, low=0.0)
    return NotebookResult(grades, comments, penalty)


def _cell_name(name: Any, where: str) -> None:
    if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME and name.isprintable()):
        raise ResultError(f"{where}: cell name {_show(name)} is not a printable name of at most {MAX_NAME} characters")


def from_json(data: Any, file: str | os.PathLike[str] | None = None) -> Result:
    """Parse and validate a result dict, field by field.

    Raise :class:`ResultError` naming ``file`` (when given) and the field when it is malformed.
    Unknown keys are ignored.
    """
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ResultError("not an autograder result (missing format header)")
        if isinstance(data.get("version"), bool) or data.get("version") != VERSION:
            raise ResultError(f"unsupported result version {_show(data.get('version'))}")
        status = data.get("status")
        if not isinstance(status, str) or status not in STATUSES:
            raise ResultError(f"unknown status {_show(status)}")
        assignment = _safe_id(data.get("assignment"), "assignment")
        student = _safe_id(data.get("student"), "student")
        notebooks_in = _dict(data.get("notebooks"), "notebooks", MAX_NOTEBOOKS)
        notebooks = {name: _notebook(name, nb) for name, nb in notebooks_in.items()}
        return Result(
            assignment=assignment, student=student, status=status,
            reason=_text(data.get("reason", ""), "reason", MAX_REASON, allow_none=True) or "",
            timestamp=_timestamp(data.get("timestamp")),
            fingerprint=_text(data.get("fingerprint", ""), "fingerprint", MAX_FINGERPRINT, allow_none=True) or "",
            duration_s=_number(data.get("duration_s", 0.0), "duration_s", low=0.0) or 0.0,
            autograded_dir=_relative_path(data.get("autograded_dir"), "autograded_dir"), notebooks=notebooks,
        )
    except ResultError as exc:
        if file is not None and exc.file is None:
            raise ResultError(exc.reason, file) from None
        raise


def write_json(path: Path, data: Any) -> None:
    """Write a contract's JSON atomically (a reader never sees half a file), readable by its owner alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")  # mode 0600
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write(path: Path, result: Result) -> None:
    """Write a result atomically (see :func:`write_json`)."""
    write_json(path, result.to_json())


def read_json(path: Path, max_bytes: int, error: type[ResultError] = ResultError) -> Any:
    """Strict JSON from a regular file of at most ``max_bytes``; any problem is ``error`` naming the file.

    Not a link, FIFO or device; UTF-8; no NaN/Infinity; nesting within Python's recursion limit.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        why = "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be opened ({exc.strerror})"
        raise error(why, path) from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error("is not a regular file", path)
        if st.st_size > max_bytes:
            raise error(f"is larger than {max_bytes} bytes", path)
        try:
            raw = fh.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"cannot be read ({exc.strerror})", path) from None
    if len(raw) > max_bytes:
        raise error(f"is larger than {max_bytes} bytes", path)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise error("is not UTF-8 text", path) from None
    except RecursionError:
        raise error("is nested too deeply", path) from None
    except ValueError as exc:  # json.JSONDecodeError, NaN/Infinity, over-long integers
        raise error(f"is not valid JSON ({str(exc).splitlines()[0][:200]})", path) from None


def read(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Result:
    """Read and validate a result file; any problem is a :class:`ResultError` naming the file.

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
            raise ResultError(f"autograded_dir {_show(result.autograded_dir)} leaves the folder of the result", path)
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


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
        raise ResultError(f"graded folder cannot be read ({exc.strerror})", file) from None
    if stat.S_ISLNK(top.st_mode):
        raise ResultError("graded folder is a symbolic link", file)
    if not stat.S_ISDIR(top.st_mode):
        raise ResultError("graded folder is not a folder", file)
    entries, size = 0, 0
    todo = [(folder, 0)]
    while todo:
        current, depth = todo.pop()
        try:
            with os.scandir(current) as it:
                children = list(it)
        except OSError as exc:
            raise ResultError(f"graded folder cannot be read ({exc.strerror})", file) from None
        for entry in children:
            rel = _show(os.path.relpath(entry.path, folder))
            entries += 1
            if entries > MAX_GRADED_ENTRIES:
                raise ResultError(f"graded folder has more than {MAX_GRADED_ENTRIES} entries", file)
            try:
                mode = entry.stat(follow_symlinks=False)
            except OSError as exc:
                raise ResultError(f"graded file {rel} cannot be read ({exc.strerror})", file) from None
            if stat.S_ISLNK(mode.st_mode):
                raise ResultError(f"graded folder holds a symbolic link {rel}", file)
            if stat.S_ISDIR(mode.st_mode):
                if depth + 1 > MAX_GRADED_DEPTH:
                    raise ResultError(f"graded folder is nested deeper than {MAX_GRADED_DEPTH} levels", file)
                todo.append((Path(entry.path), depth + 1))
            elif stat.S_ISREG(mode.st_mode):
                size += mode.st_size
                if size > MAX_GRADED_BYTES:
                    raise ResultError(f"graded folder holds more than {MAX_GRADED_BYTES} bytes", file)
            else:
                raise ResultError(f"graded folder holds a special file (FIFO, socket or device) {rel}", file)
