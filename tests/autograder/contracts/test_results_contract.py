"""Result files are untrusted input (CONTRACTS.md): every hostile field is rejected by name, and
``collect`` applies the good results of a folder, names the bad ones and writes nothing outside
the course. No kernels run: the results are written as a worker or shard writes them."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
import toy
from nbgrader.api import Gradebook

from autograder.host import collect, grade, store
from autograder.course import definition
from autograder.contracts import results
from autograder.course.directory import Course
from autograder.contracts.fields import ContractError
from autograder.contracts.results import CellGrade, NotebookResult, Result


def _result(student: str = "alice", assignment: str = "toy", notebook: str = "toy",
            cells: dict[str, float] | None = None, **kw: Any) -> Result:
    cells = toy.MAX if cells is None else cells
    fields: dict[str, Any] = {
        "status": "graded", "fingerprint": "f" * 64, "timestamp": "2024-01-01 10:00:00.000000 UTC",
        "duration_s": 1.5, "autograded_dir": "autograded",
        "notebooks": {notebook: NotebookResult(grades={c: CellGrade(m, m) for c, m in cells.items()},
                                               comments={"square": None, "add": "No response."}, late_penalty=0.0)}}
    return Result(assignment=assignment, student=student, **{**fields, **kw})


def _write_raw(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _patched(patch: dict[str, Any]) -> dict[str, Any]:
    return {**_result().to_json(), **patch}


def _nb(**kw: Any) -> dict[str, Any]:
    return {"notebooks": {"toy": kw}}


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "shard-3" / "alice" / "result.json"
    for r in (_result(), _result(autograded_dir="autograded/alice/toy", reason="x", timestamp=None),
              Result(assignment="unet_variants", student="s-1.B_2", status="timeout", reason="ran past")):
        results.write(path, r)
        assert results.read(path) == r
        assert results.from_json(json.loads(path.read_text())) == r


BAD_FIELDS = [
    # ids: one safe path component each
    ({"student": "../../../victim"}, "student '../../../victim' is not a safe id"),
    ({"student": "/etc/passwd"}, "student '/etc/passwd' is not a safe id"),
    ({"student": "a/b"}, "not a safe id"),
    ({"student": ".."}, "not a safe id"),
    ({"student": "."}, "not a safe id"),
    ({"student": ".autograder"}, "not a safe id"),
    ({"student": "x" * 65}, "not a safe id"),
    ({"student": "a\nrejected"}, "student 'a\\\\nrejected' is not a safe id"),
    ({"student": ""}, "not a safe id"),
    ({"student": 7}, "student 7 is not a safe id"),
    ({"assignment": "../toy"}, "assignment '../toy' is not a safe id"),
    ({"assignment": None}, "assignment None is not a safe id"),
    # paths: relative, plain names, inside the folder
    ({"autograded_dir": "../outside"}, "autograded_dir '../outside' is not a relative path"),
    ({"autograded_dir": "a/../../b"}, "autograded_dir"),
    ({"autograded_dir": "/tmp/outside"}, "autograded_dir '/tmp/outside' is not a relative path"),
    ({"autograded_dir": "./a"}, "autograded_dir"),
    ({"autograded_dir": "a//b"}, "autograded_dir"),
    ({"autograded_dir": ["a"]}, "autograded_dir must be a string or null"),
    # header and status
    ({"format": "other"}, "missing format header"),
    ({"version": 2}, "unsupported result version 2"),
    ({"version": True}, "unsupported result version"),
    ({"status": "hacked"}, "unknown status 'hacked'"),
    ({"status": ["graded"]}, "unknown status"),
    # strings
    ({"reason": 5}, "reason must be a string"),
    ({"reason": "x" * (results.MAX_REASON + 1)}, "reason is longer than"),
    ({"timestamp": "yesterday-ish"}, "timestamp 'yesterday-ish' is not a date"),
    ({"timestamp": 5}, "timestamp must be a string or null"),
    ({"fingerprint": {"a": 1}}, "fingerprint must be a string"),
    ({"fingerprint": "f" * 129}, "fingerprint is longer than"),
    # numbers
    ({"duration_s": -1}, "duration_s -1 outside"),
    ({"duration_s": "1"}, "duration_s must be a finite number"),
    ({"duration_s": 10 ** 400}, "duration_s must be a finite number"),
    # nested types: the AttributeError of before
    ({"notebooks": ["toy"]}, "notebooks must be an object, got list"),
    ({"notebooks": {"toy": "graded"}}, "notebooks.toy must be an object, got str"),
    (_nb(grades=[1, 2]), "notebooks.toy.grades must be an object, got list"),
    (_nb(grades={"test_square": 2}), "notebooks.toy.grades.test_square must be an object, got int"),
    (_nb(grades={"test_square": {"auto_score": 1, "max_score": "2"}}), "notebooks.toy.grades.test_square.max_score must be a finite number"),
    (_nb(grades={"test_square": {"auto_score": 1}}), "max_score must be a finite number, got None"),
    (_nb(comments=["x"]), "notebooks.toy.comments must be an object"),
    (_nb(comments={"square": 5}), "notebooks.toy.comments.square must be a string or null"),
    (_nb(comments={"square": "\ud800"}), "not valid text"),
    (_nb(late_penalty="0"), "late_penalty must be a finite number or null"),
    (_nb(late_penalty=-5), "late_penalty -5 outside"),
    # scores
    (_nb(grades={"test_square": {"auto_score": -1, "max_score": 2}}), "auto_score -1 outside 0.0..2.0"),
    (_nb(grades={"test_square": {"auto_score": 5, "max_score": 2}}), "auto_score 5 outside 0.0..2.0"),
    (_nb(grades={"test_square": {"auto_score": 0, "max_score": -2}}), "max_score -2 outside"),
    (_nb(grades={"test_square": {"auto_score": 1, "max_score": True}}), "max_score must be a finite number"),
    # names and sizes
    ({"notebooks": {"../toy": {}}}, "notebook name '../toy' is not a safe name"),
    ({"notebooks": {"": {}}}, "notebook name '' is not a safe name"),
    (_nb(grades={"a\nb": {"auto_score": 1, "max_score": 1}}), "cell name 'a\\\\nb' is not a printable name"),
    (_nb(grades={"c" * 129: {"auto_score": 1, "max_score": 1}}), "is not a printable name"),
    ({"notebooks": {f"nb{i}": {} for i in range(results.MAX_NOTEBOOKS + 1)}}, "notebooks has more than"),
    (_nb(comments={f"c{i}": None for i in range(results.MAX_CELLS + 1)}), "notebooks.toy.comments has more than"),
]


@pytest.mark.parametrize("patch, message", BAD_FIELDS, ids=[str(i) for i in range(len(BAD_FIELDS))])
def test_hostile_field_is_named(tmp_path: Path, patch: dict[str, Any], message: str) -> None:
    path = _write_raw(tmp_path / "shard-3" / "alice" / "result.json", _patched(patch))
    with pytest.raises(ContractError, match=message) as info:
        results.read(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
    with pytest.raises(ContractError, match=message):
        results.from_json(_patched(patch))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers(tmp_path: Path, value: float) -> None:
    for patch in (_nb(grades={"test_square": {"auto_score": value, "max_score": 2}}),
                  _nb(grades={"test_square": {"auto_score": 1, "max_score": value}}),
                  _nb(late_penalty=value), {"duration_s": value}):
        with pytest.raises(ContractError, match="must be a finite number"):
            results.from_json(_patched(patch))
    # in a file: Python's json writes NaN/Infinity, which strict JSON (and the reader) refuses
    path = _write_raw(tmp_path / "r.json", json.dumps(_patched({"duration_s": value})))
    with pytest.raises(ContractError, match="is not valid JSON"):
        results.read(path)
    path.write_text(json.dumps(_patched({"duration_s": 1})).replace('"duration_s": 1', '"duration_s": 1e999'))
    with pytest.raises(ContractError, match="duration_s must be a finite number"):
        results.read(path)


def test_file_level_attacks(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    results.write(good, _result())
    text = good.read_text()
    cases = {
        "truncated.json": (text[: len(text) // 2], "is not valid JSON"),
        "empty.json": ("", "is not valid JSON"),
        "deep.json": ("[" * 100_000 + "]" * 100_000, "nested too deeply|not an autograder result"),
        "latin1.json": (b"\xff\xfe{}", "is not UTF-8 text"),
        "huge.json": (json.dumps(_patched({"x": "y" * results.MAX_FILE_BYTES})), "is larger than"),
        "list.json": ("[]", "not an autograder result"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        with pytest.raises(ContractError, match=message) as info:
            results.read(path)
        assert str(info.value).startswith(str(path))
    link = tmp_path / "link.json"
    link.symlink_to(good)
    with pytest.raises(ContractError, match="is a symbolic link"):
        results.read(link)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ContractError, match="is not a regular file"):  # and does not block
        results.read(fifo)
    with pytest.raises(ContractError, match="cannot be opened"):
        results.read(tmp_path / "missing.json")


def test_autograded_dir_stays_in_its_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    path = tmp_path / "res" / "alice" / "result.json"
    results.write(path, _result(autograded_dir="graded"))
    (path.parent / "graded").symlink_to(outside)  # the name is plain; the folder it resolves to is not inside
    with pytest.raises(ContractError, match="autograded_dir 'graded' leaves the folder of the result"):
        results.read(path)
    (path.parent / "graded").unlink()
    (path.parent / "graded").mkdir()
    assert results.read(path).autograded_dir == "graded"


def test_graded_folder_links_and_special_files(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    dest = tmp_path / "course" / "autograded" / "alice" / "toy"
    dest.mkdir(parents=True)
    (dest / "old.ipynb").write_text("old")

    def graded(name: str) -> Path:
        folder = tmp_path / name
        (folder / "sub").mkdir(parents=True)
        (folder / "toy.ipynb").write_text("{}")
        return folder

    ok = graded("ok")
    os.chmod(ok / "toy.ipynb", 0o4755)  # a setuid bit is not carried over
    results.check_graded_dir(ok)
    results.check_graded_dir(tmp_path / "absent")  # nothing to copy is fine
    link = graded("link")
    (link / "sub" / "passwd").symlink_to(outside)
    fifo = graded("fifo")
    os.mkfifo(fifo / "sub" / "pipe")
    top = tmp_path / "top"
    top.symlink_to(ok)
    deep = graded("deep")
    p = deep
    for _ in range(results.MAX_GRADED_DEPTH + 1):
        p = p / "d"
    p.mkdir(parents=True)
    for folder, message in ((link, "symbolic link 'sub/passwd'"), (fifo, "special file .* 'sub/pipe'"),
                            (top, "graded folder is a symbolic link"), (outside, "not a folder"),
                            (deep, "nested deeper")):
        with pytest.raises(ContractError, match=message):
            results.check_graded_dir(folder, "r.json")
        with pytest.raises(ContractError, match=message):
            store.place_autograded(folder, dest)
        assert [p.name for p in dest.iterdir()] == ["old.ipynb"]  # untouched
    store.place_autograded(ok, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["sub", "toy.ipynb"]
    assert (dest / "toy.ipynb").stat().st_mode & 0o7777 == 0o644


def test_grade_ignores_a_result_for_someone_else(course: Path, tmp_path: Path) -> None:
    """A worker result naming another student (or assignment) is an error for the launched student."""
    toy.submit(course, "alice", toy.CORRECT)
    c = Course.open(course)
    d = definition.read(c.db_url, c.course_id, "toy")
    state = grade._Run(c, "toy", d, c.limits(), tmp_path, tmp_path / "t.db", None, {})  # type: ignore[arg-type]
    scratch = tmp_path / "1"
    job = grade._job(state, "alice", scratch)
    for other in (_result(student="mallory"), _result(assignment="unet")):
        results.write(scratch / "result.json", other)
        r = grade._read_result(state, grade._Job("alice", scratch, job, None, 0), 0)  # type: ignore[arg-type]
        assert (r.student, r.assignment, r.status, r.score) == ("alice", "toy", "error", 0)
        assert "the worker's result is for" in r.reason
    results.write(scratch / "result.json", _result())
    assert grade._read_result(state, grade._Job("alice", scratch, job, None, 0), 0) == _result()  # type: ignore[arg-type]


def _snapshot(folder: Path, skip: Path) -> set[tuple[str, int]]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            continue
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            out.add((str(p.relative_to(folder)), p.lstat().st_size if not p.is_dir() else 0))
    return out


def test_collect_good_and_hostile(course: Path, tmp_path: Path) -> None:
    # a second assignment, so that grades.csv must keep the rows of both
    (course / "source" / "toy2").mkdir(parents=True)
    nbformat.write(toy.source_notebook(prefix="b_"), course / "source" / "toy2" / "toy2.ipynb")
    toy.nbgrader(course, "generate_assignment", "toy2", "--force")
    toy2_max = {f"b_{k}": v for k, v in toy.MAX.items()}
    folder = tmp_path / "results"
    outside = tmp_path / "outside"
    (outside / "loot").mkdir(parents=True)
    (outside / "loot" / "secret.txt").write_text("secret")

    def put(name: str, result: Result | dict | str, graded: bool = True) -> Path:
        path = folder / name / "result.json"
        if graded:
            (path.parent / "autograded").mkdir(parents=True)
            assignment = result.assignment if isinstance(result, Result) else "toy"
            src = course / "release" / assignment
            if src.is_dir():
                for f in src.iterdir():
                    shutil.copyfile(f, path.parent / "autograded" / f.name)
        if isinstance(result, Result):
            results.write(path, result)
        else:
            _write_raw(path, result)
        return path

    put("g1-toy", _result("g1", cells={**toy.MAX, "test_add": 0.0}))
    put("g2-toy", _result("g2"))
    put("g1-toy2", _result("g1", assignment="toy2", notebook="toy2", cells=toy2_max))
    put("g3-toy2", _result("g3", assignment="toy2", notebook="toy2", cells=toy2_max))
    hostile = {
        "traversal-student": put("traversal-student", _patched({"student": "../../../victim"})),
        "traversal-assignment": put("traversal-assignment", _patched({"assignment": "../../toy"})),
        "traversal-dir": put("traversal-dir", _patched({"autograded_dir": "../../outside/loot"})),
        "absolute-dir": put("absolute-dir", _patched({"autograded_dir": str(outside / "loot")})),
        "wrong-type": put("wrong-type", _patched(_nb(grades={"test_square": 2}))),
        "nan": put("nan", json.dumps(_patched({"student": "nan"})).replace('"duration_s": 1.5', '"duration_s": NaN')),
        "over-max": put("over-max", _result("overmax", cells={"test_square": 10.0})),
        "unknown-status": put("unknown-status", _patched({"student": "status", "status": "hacked"})),
        "unknown-assignment": put("unknown-assignment", _result("ua", assignment="nope")),
        "truncated": put("truncated", json.dumps(_patched({}))[:100]),
        "huge": put("huge", json.dumps(_patched({"student": "huge", "x": "y" * results.MAX_FILE_BYTES}))),
        "link-dir": put("link-dir", _result("linkdir", autograded_dir="graded")),
        "link-inside": put("link-inside", _result("linkinside")),
        "fifo-inside": put("fifo-inside", _result("fifoinside")),
    }
    (hostile["link-dir"].parent / "graded").symlink_to(outside / "loot")
    (hostile["link-inside"].parent / "autograded" / "secret.txt").symlink_to(outside / "loot" / "secret.txt")
    os.mkfifo(hostile["fifo-inside"].parent / "autograded" / "pipe")
    fifo = folder / "zz-fifo.json"  # a FIFO among the results: rejected, not read (it would block)
    os.mkfifo(fifo)
    hostile["fifo"] = fifo
    # the report of the attack: the result named ../../<course parent>/victim
    hostile["deep-traversal"] = put("deep-traversal", _patched({"student": "../../../../../../../tmp/victim"}))
    before = _snapshot(tmp_path, skip=course)

    proc = subprocess.run([sys.executable, "-m", "autograder", "--root", str(course), "collect", str(folder)],
                          env=toy.env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"4 results applied, {len(hostile)} rejected" in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and lines[-1].startswith("Error: ") and len(lines) == len(hostile) + 1
    rejected = {line.split(": ", 1)[0].removeprefix("rejected "): line for line in lines if line.startswith("rejected ")}
    assert set(rejected) == {str(p) for p in hostile.values()}, proc.stderr
    assert "student '../../../victim' is not a safe id" in rejected[str(hostile["traversal-student"])]
    assert "notebooks.toy.grades.test_square must be an object" in rejected[str(hostile["wrong-type"])]
    assert "scores 10" in rejected[str(hostile["over-max"])]
    assert "symbolic link 'secret.txt'" in rejected[str(hostile["link-inside"])]
    assert "leaves the folder" in rejected[str(hostile["link-dir"])]

    # nothing appeared (or changed) outside the course; no victim anywhere inside it
    assert _snapshot(tmp_path, skip=course) == before
    assert not any("victim" in p.name or p.name in ("loot", "secret.txt", "pipe") for p in course.rglob("*"))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "toy-course") as gb:
        assert {s.id for s in gb.students} == {"g1", "g2", "g3"}
        assert {s.student.id: s.score for s in gb.find_assignment("toy").submissions} == {"g1": 3, "g2": 6}
        assert {s.student.id: s.score for s in gb.find_assignment("toy2").submissions} == {"g1": 6, "g3": 6}
    assert (course / "autograded" / "g3" / "toy2" / "toy2.ipynb").is_file()

    def table() -> tuple[list[str], dict[str, dict[str, str]]]:
        with (course / "grades.csv").open() as fh:
            reader = csv.DictReader(fh)
            return list(reader.fieldnames or []), {r["student_id"]: r for r in reader}

    header, rows = table()
    assert header == ["student_id", "status", "score", "max_score", *toy.MAX, *toy2_max, "reason"]
    assert set(rows) == {"g1", "g2", "g3"}
    assert rows["g2"]["score"] == "6" and rows["g2"]["test_square"] == "2" and rows["g2"]["b_test_square"] == ""
    assert rows["g3"]["score"] == "6" and rows["g3"]["b_test_add"] == "3"
    assert rows["g1"]["test_add"] == "0" and rows["g1"]["b_test_add"] == "3"  # both assignments' cells kept

    # a later collect of one assignment keeps the rows already there
    folder2 = tmp_path / "results2"
    folder = folder2
    put("g4-toy2", _result("g4", assignment="toy2", notebook="toy2", cells=toy2_max))
    assert collect.run(course=Course.open(course), folder=folder2) == {"applied": 1, "rejected": 0}
    header, rows = table()
    assert set(rows) == {"g1", "g2", "g3", "g4"} and rows["g2"]["test_square"] == "2"
