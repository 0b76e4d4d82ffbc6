"""What every contract file is checked with: one error type, bounded strict JSON, and field validators.

A result, a job and a policy (:mod:`autograder.contracts.results`, :mod:`autograder.contracts.job`) are read
from files another process wrote. Each field is checked with the functions here; anything that does not
fit is a :class:`ContractError` naming the file and the field, in one line.
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ContractError", "MAX_ID", "MAX_NAME", "MAX_PATH", "MAX_LIST", "show", "show_path", "is_safe_id",
           "is_component", "check_id", "check_text", "check_number", "check_mapping", "check_abs_path", "check_int",
           "check_bool", "check_list", "read_json", "write_json"]

MAX_ID = 64                 # student and assignment ids (nbgrader ids)
MAX_NAME = 128              # notebook and cell names (nbgrader's column width)
MAX_PATH = 1024
MAX_LIST = 256


class ContractError(ValueError):
    """A contract file (a result, a job, a policy, or the graded folder a result points to) that breaks its format.

    ``str()`` is ``"FILE: REASON"`` when the file is known, else ``REASON``; both are one line.
    """

    def __init__(self, reason: str, file: str | os.PathLike[str] | None = None) -> None:
        self.reason = reason
        self.file = None if file is None else show_path(file)
        super().__init__(f"{self.file}: {reason}" if self.file else reason)


_ID = re.compile(r"[A-Za-z0-9._-]{1,%d}" % MAX_ID)


def show(value: Any, limit: int = 80) -> str:
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


def is_component(value: Any) -> bool:
    """A printable name usable as one path component (no separators, not ``.``/``..``, not hidden)."""
    return (isinstance(value, str) and 0 < len(value) <= MAX_NAME and value.isprintable()
            and "/" not in value and "\\" not in value and not value.startswith("."))


def check_id(value: Any, what: str) -> str:
    if not is_safe_id(value):
        raise ContractError(f"{what} {show(value)} is not a safe id")
    return value


def check_text(value: Any, what: str, limit: int, allow_none: bool = False) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ContractError(f"{what} must be a string{' or null' if allow_none else ''}, got {type(value).__name__}")
    if len(value) > limit:
        raise ContractError(f"{what} is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ContractError(f"{what} is not valid text (lone surrogate)") from None
    return value


def check_number(value: Any, what: str, allow_none: bool = False, low: float | None = None,
            high: float | None = None) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContractError(f"{what} must be a finite number{' or null' if allow_none else ''}, got {show(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ContractError(f"{what} must be a finite number, got {show(value)}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise ContractError(f"{what} {number:g} outside {low if low is not None else '-inf'}..{high if high is not None else 'inf'}")
    return number


def check_mapping(value: Any, what: str, limit: int) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ContractError(f"{what} must be an object, got {type(value).__name__}")
    if len(value) > limit:
        raise ContractError(f"{what} has more than {limit} entries")
    return value


def check_abs_path(value: Any, what: str, allow_none: bool = False) -> str | None:
    text = check_text(value, what, MAX_PATH, allow_none)
    if text is None:
        return None
    if not text.startswith("/") or "\x00" in text or not text.isprintable() or ".." in text.split("/"):
        raise ContractError(f"{what} {show(text)} is not an absolute path without '..'")
    return text


def check_int(value: Any, what: str, low: int, high: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContractError(f"{what} must be an integer{' or null' if allow_none else ''}, got {show(value)}")
    if not low <= value <= high:
        raise ContractError(f"{what} {value} outside {low}..{high}")
    return value


def check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ContractError(f"{what} must be true or false, got {show(value)}")
    return value


def check_list(value: Any, what: str, limit: int = MAX_LIST) -> list[Any]:
    if not isinstance(value, list):
        raise ContractError(f"{what} must be a list, got {type(value).__name__}")
    if len(value) > limit:
        raise ContractError(f"{what} has more than {limit} entries")
    return value


def write_json(path: Path, data: Any) -> None:
    """Write a contract's JSON atomically (a reader never sees half a file), readable by its owner alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")  # mode 0600
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path, max_bytes: int, error: type[ContractError] = ContractError) -> Any:
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


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")
