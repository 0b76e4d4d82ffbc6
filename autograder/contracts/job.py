"""The worker's job and its kernel's policy: what the grading process hands to what runs beside student code.

``grade`` (host side) writes ``job.json`` and ``policy.json`` into a submission's scratch folder; the
worker (run side, possibly in a container) reads them back. Both are plain JSON, versioned, and
validated field by field on the way in (:class:`autograder.contracts.fields.ContractError` names the
file and the field): ids are safe path components, paths are absolute, numbers finite and in range,
lists and maps bounded. The sandbox launcher reads ``policy.json`` with the standard library alone.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from autograder.contracts.fields import (MAX_NAME, MAX_PATH, ContractError, check_abs_path, check_bool,
                                         check_id, check_int, check_list, check_mapping, check_number, check_text,
                                         read_json, show, write_json)

__all__ = ["Job", "Policy", "JOB_FORMAT", "POLICY_FORMAT", "VERSION", "MAX_BYTES"]

JOB_FORMAT = "autograder-job"
POLICY_FORMAT = "autograder-policy"
VERSION = 1
#: Largest job or policy file read (a real one is a few KiB).
MAX_BYTES = 1 * 2**20
RLIMITS = ("AS", "NPROC", "FSIZE", "CPU", "NOFILE", "CORE")


def _header(data: Any, kind: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ContractError(f"must be a JSON object, got {type(data).__name__}")
    if data.get("format") != kind:
        raise ContractError(f"format is {show(data.get('format'))}, expected {kind!r}")
    if data.get("version") != VERSION:
        raise ContractError(f"version {show(data.get('version'))} is not supported (this kit reads {VERSION})")
    return data


def _unknown(data: dict[str, Any], cls: type) -> None:
    known = {f.name for f in fields(cls)} | {"format", "version"}
    extra = sorted(str(k) for k in data if k not in known)
    if extra:
        raise ContractError(f"unknown field {show(extra[0])}")


def _check_pattern(value: Any, what: str) -> str:
    text = check_text(value, what, 2000)
    try:
        re.compile(text)  # type: ignore[arg-type]
    except re.error as error:
        raise ContractError(f"{what} is not a regular expression ({error})") from None
    return text  # type: ignore[return-value]


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
    env_drop: str = ""  # a regular expression: variables whose names it finds are dropped (secrets) ...
    env_set: dict[str, str] = field(default_factory=dict)
    in_container: bool = False
    confine: bool = True  # False only with --no-sandbox
    env_keep: str = ""  # ... and of the rest only those whose whole name it matches are kept ("": none)
    gpus: list[int] = field(default_factory=list)  # the /dev/nvidia<N> bound into the view (none: no GPU node)

    def to_json(self) -> dict[str, Any]:
        """The JSON the launcher reads."""
        return {"format": POLICY_FORMAT, "version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any, file: str | os.PathLike[str] | None = None) -> "Policy":
        """Validate ``data`` field by field; a :class:`ContractError` names ``file`` and the field."""
        try:
            data = _header(data, POLICY_FORMAT)
            _unknown(data, cls)
            rlimits = check_mapping(data.get("rlimits", {}), "rlimits", len(RLIMITS))
            for name in rlimits:
                if name not in RLIMITS:
                    raise ContractError(f"rlimits has unknown limit {show(name)}")
            env_set = check_mapping(data.get("env_set", {}), "env_set", 64)
            return cls(
                uid=check_int(data.get("uid"), "uid", 0, 2**31 - 1), gid=check_int(data.get("gid"), "gid", 0, 2**31 - 1),
                workdir=check_abs_path(data.get("workdir"), "workdir"),
                ro=[check_abs_path(p, "ro") for p in check_list(data.get("ro", []), "ro")],
                rw=[check_abs_path(p, "rw") for p in check_list(data.get("rw", []), "rw")],
                grader_only=[check_abs_path(p, "grader_only") for p in check_list(data.get("grader_only", []), "grader_only")],
                private_tmp=[check_abs_path(p, "private_tmp") for p in check_list(data.get("private_tmp", []), "private_tmp")],
                tmp_size_mb=check_int(data.get("tmp_size_mb", 512), "tmp_size_mb", 1, 2**20),
                cgroup_procs=[check_abs_path(p, "cgroup_procs") for p in check_list(data.get("cgroup_procs", []), "cgroup_procs")],
                rlimits={k: check_int(v, f"rlimits.{k}", 0, 2**62) for k, v in rlimits.items()},
                env_drop=check_text(data.get("env_drop", ""), "env_drop", 2000),
                env_set={check_text(k, "env_set name", MAX_NAME): check_text(v, f"env_set.{k}", MAX_PATH) for k, v in env_set.items()},
                in_container=check_bool(data.get("in_container", False), "in_container"),
                confine=check_bool(data.get("confine", True), "confine"),
                env_keep=_check_pattern(data.get("env_keep", ""), "env_keep"),
                gpus=[check_int(n, "gpus", 0, 4095) for n in check_list(data.get("gpus", []), "gpus", 64)],
            )
        except ContractError as error:
            raise ContractError(error.reason, file) from None

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
        """Validate ``data`` field by field; a :class:`ContractError` names ``file`` and the field."""
        try:
            data = _header(data, JOB_FORMAT)
            _unknown(data, cls)
            limits = check_mapping(data.get("limits"), "limits", 64)
            for name, value in limits.items():
                if isinstance(value, list):
                    check_list(value, f"limits.{name}")
                else:
                    check_number(value, f"limits.{name}", low=0)
            policy = data.get("policy")
            return cls(
                root=check_abs_path(data.get("root"), "root"), scratch=check_abs_path(data.get("scratch"), "scratch"),
                assignment=check_id(data.get("assignment"), "assignment"),
                student=check_id(data.get("student"), "student"),
                course_id=check_text(data.get("course_id"), "course_id", MAX_NAME),
                template_db=check_abs_path(data.get("template_db"), "template_db"),
                definition=check_mapping(data.get("definition"), "definition", 64),
                limits=limits,
                submission_dir=check_abs_path(data.get("submission_dir"), "submission_dir"),
                release_dir=check_abs_path(data.get("release_dir"), "release_dir"),
                policy=None if policy is None else Policy.from_json(policy),
                extension_s=check_number(data.get("extension_s"), "extension_s", allow_none=True, low=0),
                challenge=check_int(data.get("challenge"), "challenge", 0, 2**31 - 1, allow_none=True),
                judge_cache=check_abs_path(data.get("judge_cache"), "judge_cache", allow_none=True),
                in_container=check_bool(data.get("in_container", False), "in_container"),
                slot=check_int(data.get("slot", 0), "slot", 0, 4096),
                threads=check_int(data.get("threads"), "threads", 1, 4096, allow_none=True),
                uid=check_int(data.get("uid"), "uid", 1000, 2**31 - 1, allow_none=True),
            )
        except ContractError as error:
            raise ContractError(error.reason, file) from None

    def write(self, path: Path) -> None:
        """Write ``job.json`` (0600)."""
        write_json(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> "Job":
        """Read and validate ``job.json``."""
        return cls.from_json(read_json(path, MAX_BYTES), path)
