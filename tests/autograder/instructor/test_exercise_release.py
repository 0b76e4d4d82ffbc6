"""An exercise is written once, in its source notebook: the release generates the rest and refuses bad definitions."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest

from autograder.course import exercise_book
from autograder.course import scratch as scratch_course
from autograder.course.exercise_book import DefinitionError
from autograder.instructor import release

REPO = Path(__file__).resolve().parents[3]
ATTENTION, GATE_NB = "unet_attention", "Attention_Gate.ipynb"


def _course(tmp: Path, assignment: str) -> Path:
    return scratch_course.build(tmp / "course", origin=REPO, assignment=assignment, release=True, source="all")


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for top in ("release", "references", "source") for p in sorted((root / top).rglob("*")) if p.is_file()}


def _edit(root: Path, assignment: str, notebook: str, change: Callable[[Any], None]) -> None:
    path = root / "source" / assignment / notebook
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def _cell(nb: Any, grade_id: str) -> Any:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _meta(grade_id: str, **changes: Any) -> Callable[[Any], None]:
    def change(nb: Any) -> None:
        _cell(nb, grade_id).metadata["exercise"].update(changes)
    return change


def _source(grade_id: str, old: str, new: str) -> Callable[[Any], None]:
    def change(nb: Any) -> None:
        cell = _cell(nb, grade_id)
        assert old in cell.source
        cell.source = cell.source.replace(old, new)
    return change


def _raises(nb: Any) -> None:
    _cell(nb, "residual_block").source += "\nraise ValueError('boom')\n"


def _markers_after_return(nb: Any) -> None:
    cell = _cell(nb, "attention_gate")
    lines = [line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line]
    cell.source = "\n".join(lines + ["    ### BEGIN SOLUTION", "    ### END SOLUTION"]) + "\n"


def _rename(nb: Any) -> None:
    _cell(nb, "residual_block").metadata.nbgrader.grade_id = "attention_gate"


BAD = [
    ("kind", _meta("attention_gate", kind="layer"), 'exercise metadata: "kind" is \'layer\''),
    ("no cases", _meta("attention_gate", hidden=[]), '"hidden" has no cases'),
    ("free layer", _meta("attention_gate", free=[["Conv2DTranspose", "kernel_initializer"]]),
     "names a Conv2DTranspose layer, which the solution does not have"),
    ("free setting", _meta("attention_gate", free=[["Conv2D", "momentum"]]), "'momentum', which Conv2D layers do not have"),
    ("unknown argument", _meta("residual_block", public=[{"inputs": [[8, 8, 3]], "kwargs": {"filters": 3}}]),
     "sets 'filters', which residual_block does not take"),
    ("unbuildable case", _meta("attention_gate", hidden=[{"inputs": [[4, 4, 8], [9, 9, 6]], "kwargs": {}}]),
     "the solution cannot build hidden case 1"),
    ("solution raises", _raises,
     "the solution cell raises ValueError: boom"),
    ("two names", _rename, "two exercises are named 'attention_gate'"),
    ("no markers", _source("test_attention_gate", "### BEGIN GENERATED", "# (markers removed)"),
     "test_attention_gate): needs exactly one ### BEGIN GENERATED"),
    ("stale example", _meta("attention_gate", examples={"mistakes": [{"student": "x", "description": "x",
                                                                      "edits": [["no such text", "y"]]}]}),
     "an example's edit does not match the solution"),
]


@pytest.mark.parametrize("name, change, text", BAD, ids=[b[0] for b in BAD])
def test_a_bad_definition_stops_the_release_before_anything_is_written(tmp_path: Path, name: str,
                                                                        change: Callable[[Any], None], text: str) -> None:
    course = _course(tmp_path, ATTENTION)
    _edit(course, ATTENTION, GATE_NB, change)
    before = _snapshot(course)
    with pytest.raises(DefinitionError) as caught:
        release.run(root=course, assignments=[ATTENTION], verify=False)
    message = str(caught.value)
    assert message.startswith(str(course / "source" / ATTENTION / GATE_NB)) and text in message, message
    assert "\n" not in message
    assert _snapshot(course) == before  # release/, references/ and source/ untouched


def test_the_command_line_says_it_in_one_line(tmp_path: Path) -> None:
    course = _course(tmp_path, ATTENTION)
    _edit(course, ATTENTION, GATE_NB, _meta("attention_gate", kind="layer"))
    done = subprocess.run([sys.executable, "-m", "autograder", "--root", str(course), "release", ATTENTION, "--no-verify"],
                          capture_output=True, text=True, timeout=600)
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"{GATE_NB}, cell" in errors[0] and '"kind" is' in errors[0]


def test_released_copies_carry_no_definitions_and_the_bundle_is_grader_only(tmp_path: Path) -> None:
    course = _course(tmp_path, ATTENTION)
    release.run(root=course, assignments=[ATTENTION], verify=False)
    nb = nbformat.read(course / "release" / ATTENTION / GATE_NB, as_version=4)
    assert "exercises" not in nb.metadata and not any("exercise" in c.metadata for c in nb.cells)
    assert "demo-mistake" not in json.dumps(nb)
    bundle = exercise_book.bundle_path(course, ATTENTION, "Attention_Gate")
    assert bundle.stat().st_mode & 0o077 == 0
    assert set(json.loads(bundle.read_text())["exercises"]) == {"attention_gate", "residual_block"}


@pytest.mark.slow
@pytest.mark.parametrize("cell, old, new, text", [
    # solution markers around nothing, after the return: the released notebook would hand out the answer
    ("attention_gate", "### BEGIN SOLUTION", "### END SOLUTION",
     "the empty notebook scores 10 of 10 on attention_gate, expected 0"),
    # a check the solution cannot pass
    ("test_residual_block", "check(exercise, residual_block", "assert False, 'too strict'\ncheck(exercise, residual_block",
     "the solution notebook scores 6 of 10 on residual_block, expected full marks"),
])
def test_release_grades_the_solution_and_the_empty_notebook_first(tmp_path: Path, cell: str, old: str, new: str,
                                                                   text: str) -> None:
    course = _course(tmp_path, ATTENTION)
    course_data = REPO / "data"
    if course_data.exists():
        (course / "data").symlink_to(course_data.resolve())
    _edit(course, ATTENTION, GATE_NB, _markers_after_return if cell == "attention_gate" else _source(cell, old, new))
    before = {k: v for k, v in _snapshot(course).items() if not k.startswith("source/")}
    with pytest.raises(release.ReleaseError, match="release refused") as caught:
        release.run(root=course, assignments=[ATTENTION])
    assert text in str(caught.value), caught.value
    assert {k: v for k, v in _snapshot(course).items() if not k.startswith("source/")} == before


OLD_STEP = "conv_block(enc3[0], n_filters * 8, dropout_prob=0.3)"
NEW_STEP = "conv_block(enc3[0], n_filters * 8, dropout_prob=0.5)"


@pytest.mark.slow
def test_changing_a_stated_setting_in_the_solution_is_followed_everywhere(tmp_path: Path) -> None:
    """Dropout of the fourth encoder step 0.3 -> 0.5, in the solution cell only: the public check's expected data, the
    judge and the mutation oracle all follow, and the release touches nothing but the assignment's generated files."""
    from autograder.run.judge.references import References
    from autograder.run.judge.verdict import ReferenceCache, judge_cell
    from benchmarks.mutants.oracle import Oracle
    from test_utils import evidence

    course = _course(tmp_path, "unet")
    notebook = "Image_segmentation_Unet.ipynb"
    old_code = exercise_book.read(course / "source/unet" / notebook).entries[2].solution
    def change(nb: Any) -> None:  # the solution cell, and its demo examples that quote the changed line
        _source("unet_model", OLD_STEP, NEW_STEP)(nb)
        meta = _cell(nb, "unet_model").metadata
        meta["exercise"] = json.loads(json.dumps(meta["exercise"]).replace(OLD_STEP, NEW_STEP))

    _edit(course, "unet", notebook, change)
    before = {k: v for k, v in _snapshot(course).items()}
    release.run(root=course, assignments=["unet"], verify=False)
    after = _snapshot(course)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed <= {f"source/unet/{notebook}", f"release/unet/{notebook}", "references/unet/Image_segmentation_Unet.json"}

    # the public check's expected data: the fourth step's Dropout now has rate 0.5, the bottleneck's still 0.3
    for top in ("source", "release"):
        cell = _cell(nbformat.read(course / top / "unet" / notebook, as_version=4), "test_unet_model").source
        assert '["Dropout", (None, 12, 16, 256), {"rate": 0.5}, [8]]' in cell, top
        assert '["Dropout", (None, 6, 8, 512), {"rate": 0.3}, [11]]' in cell, top

    # the released public check passes the new solution and names the old one's dropout (run as in the notebook)
    public = _cell(nbformat.read(course / "release" / "unet" / notebook, as_version=4), "test_unet_model").source
    solved = dict(References(exercise_book.load_bundles(course, "unet")["Image_segmentation_Unet"]).namespace())
    exec(compile(public, "<public check>", "exec"), solved)
    stale = dict(solved)
    exec(compile(old_code, "<old unet_model>", "exec"), stale)
    with pytest.raises(AssertionError, match="conv_block call 4: dropout_prob is 0.3, expected 0.5"):
        exec(compile(public, "<public check>", "exec"), stale)

    # the judge: the old solution now fails the hidden check, the new one passes
    bundles = exercise_book.load_bundles(course, "unet")
    cache = ReferenceCache(bundles)
    spec = bundles["Image_segmentation_Unet"]["exercises"]["unet_model"]["spec"]
    new_fn = cache.references("Image_segmentation_Unet").function("unet_model")
    namespace = dict(cache.references("Image_segmentation_Unet").namespace())
    exec(compile(old_code, "<old unet_model>", "exec"), namespace)

    def verdict(fn: Any) -> Any:
        payload = json.loads(json.dumps(evidence.collect(spec, fn, "hidden", 7)))
        return judge_cell("Image_segmentation_Unet", "test_unet_model_hidden", [payload], 7, cache)

    assert verdict(new_fn).ok
    old = verdict(namespace["unet_model"])
    # in the public check's words (the wiring sentence), not the Dropout layer's rate
    assert not old.ok and "conv_block call 4: dropout_prob is 0.3, expected 0.5" in old.reason, old

    # the mutation oracle builds its reference from the same source: the old solution is now a mistake
    oracle = Oracle(repo=course)
    assert oracle.judge_code("unet", "unet_model", exercise_book.read(course / "source/unet" / notebook).entries[2].solution).equivalent
    assert not oracle.judge_code("unet", "unet_model", old_code).equivalent
