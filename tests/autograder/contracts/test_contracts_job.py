"""The job and policy contracts: round trips, and every hostile field refused with the file and field named."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autograder.contracts.job import Job, Policy
from autograder.contracts.fields import ContractError


def _policy() -> Policy:
    return Policy(uid=61000, gid=61000, workdir="/tmp/box/work", ro=["/usr", "/course/data"], rw=["/tmp/box"],
                  grader_only=["/course/gradebook.db"],
                  private_tmp=["/tmp"], tmp_size_mb=64, cgroup_procs=["/sys/fs/cgroup/autograder/1/cgroup.procs"],
                  rlimits={"AS": 2**33, "NPROC": 512, "CORE": 0}, env_drop="SECRET", env_set={"HOME": "/tmp/box/home"})


def _job() -> Job:
    return Job(root="/course", scratch="/tmp/ag-1/1", assignment="unet", student="alice", course_id="course101",
               template_db="/tmp/ag-1/template.db", definition={"name": "unet", "notebooks": []},
               limits={"cell_timeout": 300.0, "nproc": 512, "allow": [".venv", "data"]},
               submission_dir="/course/submitted/alice/unet", release_dir="/course/release/unet",
               policy=_policy(), extension_s=3600.0, challenge=12345, judge_cache="/tmp/ag-1/judge-cache")


def test_round_trip_through_files(tmp_path: Path) -> None:
    job = _job()
    job.write(tmp_path / "job.json")
    job.policy.write(tmp_path / "policy.json")
    assert Job.read(tmp_path / "job.json") == job
    assert Policy.read(tmp_path / "policy.json") == job.policy
    assert (tmp_path / "job.json").stat().st_mode & 0o777 == 0o600


def test_the_launcher_reads_the_policy_as_plain_json(tmp_path: Path) -> None:
    """The stdlib-only launcher reads keys of the same file: they must all be there, with plain values."""
    _policy().write(tmp_path / "policy.json")
    data = json.loads((tmp_path / "policy.json").read_text())
    for key in ("uid", "gid", "workdir", "ro", "rw", "grader_only", "private_tmp", "tmp_size_mb",
                "cgroup_procs", "rlimits", "env_drop", "env_set", "in_container", "confine"):
        assert key in data


HOSTILE_JOB: list[tuple[str, Any, str]] = [
    ("student", "../../victim", "student"),
    ("student", "..", "student"),
    ("assignment", "a/b", "assignment"),
    ("student", None, "student"),
    ("root", "relative/course", "root"),
    ("scratch", "/tmp/\x00x", "scratch"),
    ("challenge", 2**40, "challenge"),
    ("challenge", True, "challenge"),
    ("extension_s", float("nan"), "extension_s"),
    ("extension_s", -1, "extension_s"),
    ("slot", "0", "slot"),
    ("threads", 0, "threads"),
    ("uid", 0, "uid"),
    ("uid", "61000", "uid"),
    ("limits", {"nproc": "many"}, "limits.nproc"),
    ("limits", [1, 2], "limits"),
    ("definition", "unet", "definition"),
    ("judge_cache", "cache", "judge_cache"),
    ("in_container", "yes", "in_container"),
    ("surprise", 1, "unknown field"),
    ("version", 2, "version"),
    ("format", "autograder-result", "format"),
]


@pytest.mark.parametrize("field,value,named", HOSTILE_JOB, ids=[f"{f}={v!r}"[:40] for f, v, _ in HOSTILE_JOB])
def test_hostile_job_fields_are_refused_naming_file_and_field(field: str, value: Any, named: str) -> None:
    data = _job().to_json()
    data[field] = value
    with pytest.raises(ContractError) as caught:
        Job.from_json(data, "scratch/job.json")
    assert str(caught.value).startswith("scratch/job.json: ") and named in str(caught.value)
    assert "\n" not in str(caught.value)


HOSTILE_POLICY: list[tuple[str, Any, str]] = [
    ("uid", -1, "uid"),
    ("uid", 1.5, "uid"),
    ("workdir", "work", "workdir"),
    ("ro", "/usr", "ro"),
    ("ro", ["/usr"] * 1000, "ro"),
    ("ro", ["usr"], "ro"),
    ("rw", ["/tmp/box/../../etc"], "rw"),
    ("grader_only", [5], "grader_only"),
    ("confine", "no", "confine"),
    ("rlimits", {"STACK": 1}, "rlimits"),
    ("rlimits", {"AS": -5}, "rlimits.AS"),
    ("env_set", {"HOME": 5}, "env_set.HOME"),
    ("tmp_size_mb", 0, "tmp_size_mb"),
]


@pytest.mark.parametrize("field,value,named", HOSTILE_POLICY, ids=[f"{f}={v!r}"[:40] for f, v, _ in HOSTILE_POLICY])
def test_hostile_policy_fields_are_refused(field: str, value: Any, named: str) -> None:
    data = _job().to_json()
    data["policy"][field] = value
    with pytest.raises(ContractError) as caught:
        Job.from_json(data, "job.json")
    assert str(caught.value).startswith("job.json: ") and named in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"format": "autograder-job", "version": 1}',
                                     b"x" * (2**20 + 1), "{\"a\": NaN}".encode()])
def test_broken_job_files_are_refused_in_one_line(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "job.json").write_bytes(content)
    with pytest.raises(ContractError) as caught:
        Job.read(tmp_path / "job.json")
    assert str(caught.value).startswith(str(tmp_path / "job.json")) and "\n" not in str(caught.value)


def test_a_linked_job_file_is_refused(tmp_path: Path) -> None:
    _job().write(tmp_path / "real.json")
    (tmp_path / "job.json").symlink_to(tmp_path / "real.json")
    with pytest.raises(ContractError, match="symbolic link"):
        Job.read(tmp_path / "job.json")
