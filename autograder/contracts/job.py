"""The worker's job and its kernel's policy: what the grading process hands to what runs beside student code.

``grade`` (host side) writes ``job.json`` and ``policy.json`` into a submission's scratch folder; the
worker (run side, possibly in a container) reads them back. Both are plain JSON, versioned, and
validated field by field on the way in (:class:`autograder.contracts.results.ResultError` names the
file and the field): ids are safe path components, paths are absolute, numbers finite and in range,
lists and maps bounded. The sandbox launcher reads ``policy.json`` with the standard library alone.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from autograder.contracts.results import (MAX_NAME, MAX_PATH, ResultError, _dict, _number, _safe_id, _show,
                                          _text, read_json, write_json)

__all__ = ["Job", "Policy", "JOB_FORMAT", "POLICY_FORMAT", "VERSION", "MAX_BYTES"]

JOB_FORMAT = "autograder-job"
POLICY_FORMAT = "autograder-policy"
VERSION = 1
#: Largest job or policy file read (a real one is a few KiB).
MAX_BYTES = 1 * 2**20
MAX_LIST = 256
RLIMITS = ("AS", "NPROC", "FSIZE", "CPU", "NOFILE", "CORE")


def _path(value: Any, what: str, allow_none: bool = False) -> str | None:
    text = _text(value, what, MAX_PATH, allow_none)
    if text is None:
        return None
    if not text.startswith("/") or "\x00" in text or not text.isprintable() or ".." in text.split("/"):
        raise ResultError(f"{what} {_show(text)} is not an absolute path without '..'")
    return text


def _int(value: Any, what: str, low: int, high: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResultError(f"{what} must be an integer{' or null' if allow_none else ''}, got {_show(value)}")
    if not low <= value <= high:
        raise ResultError(f"{what} {value} outside {low}..{high}")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ResultError(f"{what} must be true or false, got {_show(value)}")
    return value


def _list(value: Any, what: str, limit: int = MAX_LIST) -> list[Any]:
    if not isinstance(value, list):
        raise ResultError(f"{what} must be a list, got {type(value).__name__}")
    if len(value) > limit:
        raise ResultError(f"{what} has more than {limit} entries")
    return value


def _header(data: Any, kind: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ResultError(f"must be a JSON object, got {type(data).__name__}")
    if data.get("format") != kind:
        raise ResultError(f"format is {_show(data.get('format'))}, expected {kind!r}")
    if data.get("version") != VERSION:
        raise ResultError(f"version {_show(data.get('version'))} is not supported (this kit reads {VERSION})")
    return data


def _unknown(data: dict[str, Any], cls: type) -> None:
    known = {f.name for f in fields(cls)} | {"format", "version"}
    extra = sorted(str(k) for k in data if k not in known)
    if extra:
        raise ResultError(f"unknown field {_show(extra[0])}")


@dataclass
class Policy:
    """What the sandbox launcher does to one kernel before it starts (see :mod:`autograder.sandbox.launch`)."""

    uid: int
    gid: int
    workdir: str
    ro: list[str] = field(default_factory=list)  # the kernel's whole view: these read-only ...
    rw: list[str] = field(default_factory=list)  # ... and these read-write (its box)
    grader_only: list[str] = field(default_factory=list)  # in a container: must be unreadable by the kernel
    private_tmp: list[str] = field(default_factory=list)
    tmp_size_mb: int = 512
    cgroup_procs: list[str] = field(default_factory=list)
    rlimits: dict[str, int] = field(default_factory=dict)
    env_drop: str = ""
    env_set: dict[str, str] = field(default_factory=dict)
    in_container: bool = False
    confine: bool = True  # False only with --no-sandbox

    def to_json(self) -> dict[str, Any]:
        """The JSON the launcher reads."""
        return {"format": POLICY_FORMAT, "version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any, file: str | os.PathLike[str] | None = None) -> "Policy":
        """Validate ``data`` field by field; a :class:`ResultError` names ``file`` and the field."""
        try:
            data = _header(data, POLICY_FORMAT)
            _unknown(data, cls)
            rlimits = _dict(data.get("rlimits", {}), "rlimits", len(RLIMITS))
            for name in rlimits:
                if name not in RLIMITS:
                    raise ResultError(f"rlimits has unknown limit {_show(name)}")
            env_set = _dict(data.get("env_set", {}), "env_set", 64)
            return cls(
                uid=_int(data.get("uid"), "uid", 0, 2**31 - 1), gid=_int(data.get("gid"), "gid", 0, 2**31 - 1),
                workdir=_path(data.get("workdir"), "workdir"),
                ro=[_path(p, "ro") for p in _list(data.get("ro", []), "ro")],
                rw=[_path(p, "rw") for p in _list(data.get("rw", []), "rw")],
                grader_only=[_path(p, "grader_only") for p in _list(data.get("grader_only", []), "grader_only")],
                private_tmp=[_path(p, "private_tmp") for p in _list(data.get("private_tmp", []), "private_tmp")],
                tmp_size_mb=_int(data.get("tmp_size_mb", 512), "tmp_size_mb", 1, 2**20),
                cgroup_procs=[_path(p, "cgroup_procs") for p in _list(data.get("cgroup_procs", []), "cgroup_procs")],
                rlimits={k: _int(v, f"rlimits.{k}", 0, 2**62) for k, v in rlimits.items()},
                env_drop=_text(data.get("env_drop", ""), "env_drop", 2000),
                env_set={_text(k, "env_set name", MAX_NAME): _text(v, f"env_set.{k}", MAX_PATH) for k, v in env_set.items()},
                in_container=_bool(data.get("in_container", False), "in_container"),
                confine=_bool(data.get("confine", True), "confine"),
            )
        except ResultError as error:
            raise ResultError(error.reason, file) from None

    def write(self, path: Path) -> None:
        """Write ``policy.json`` (0600)."""
        write_json(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> "Policy":
        """Read and validate ``policy.json``."""
        return cls.from_json(read_json(path, MAX_BYTES), path)


@dataclass
class Job:
    """One submission to grade: everything the worker needs, nothing it may not see."""

    root: str                       # the course (inside a container: /job/course)
    scratch: str                    # the worker's private folder
    assignment: str
    student: str
    course_id: str
    template_db: str                # the gradebook template the worker copies
    definition: dict[str, Any]      # autograder.course.definition.AssignmentDef.to_json()
    limits: dict[str, Any]          # autograder.sandbox.limits.Limits.to_json()
    submission_dir: str
    release_dir: str
    policy: Policy | None = None
    extension_s: float | None = None
    challenge: int | None = None    # the judge's seed, picked by grade at grading time
    judge_cache: str | None = None
    in_container: bool = False
    slot: int = 0
    threads: int | None = None
    uid: int | None = None          # in a container: the kernel's uid, claimed by grade on the host

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``job.json``."""
        data = asdict(self)
        data["policy"] = None if self.policy is None else self.policy.to_json()
        return {"format": JOB_FORMAT, "version": VERSION, **data}

    @classmethod
    def from_json(cls, data: Any, file: str | os.PathLike[str] | None = None) -> "Job":
        """Validate ``data`` field by field; a :class:`ResultError` names ``file`` and the field."""
        try:
            data = _header(data, JOB_FORMAT)
            _unknown(data, cls)
            limits = _dict(data.get("limits"), "limits", 64)
            for name, value in limits.items():
                if isinstance(value, list):
                    _list(value, f"limits.{name}")
                else:
                    _number(value, f"limits.{name}", low=0)
            policy = data.get("policy")
            return cls(
                root=_path(data.get("root"), "root"), scratch=_path(data.get("scratch"), "scratch"),
                assignment=_safe_id(data.get("assignment"), "assignment"),
                student=_safe_id(data.get("student"), "student"),
                course_id=_text(data.get("course_id"), "course_id", MAX_NAME),
                template_db=_path(data.get("template_db"), "template_db"),
                definition=_dict(data.get("definition"), "definition", 64),
                limits=limits,
                submission_dir=_path(data.get("submission_dir"), "submission_dir"),
                release_dir=_path(data.get("release_dir"), "release_dir"),
                policy=None if policy is None else Policy.from_json(policy),
                extension_s=_number(data.get("extension_s"), "extension_s", allow_none=True, low=0),
                challenge=_int(data.get("challenge"), "challenge", 0, 2**31 - 1, allow_none=True),
                judge_cache=_path(data.get("judge_cache"), "judge_cache", allow_none=True),
                in_container=_bool(data.get("in_container", False), "in_container"),
                slot=_int(data.get("slot", 0), "slot", 0, 4096),
                threads=_int(data.get("threads"), "threads", 1, 4096, allow_none=True),
                uid=_int(data.get("uid"), "uid", 1000, 2**31 - 1, allow_none=True),
            )
        except ResultError as error:
            raise ResultError(error.reason, file) from None

    def write(self, path: Path) -> None:
        """Write ``job.json`` (0600)."""
        write_json(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> "Job":
        """Read and validate ``job.json``."""
        return cls.from_json(read_json(path, MAX_BYTES), path)
