"""The judge decides check cells from evidence, in the grader's process; bad evidence scores 0 with a reason."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.course import exercise_book
from autograder.run.judge.preprocessor import EVIDENCE_ERROR, VERDICT_ERROR, JudgeEvidence
from autograder.run.judge.verdict import MAX_EVIDENCE_BYTES, ReferenceCache, judge_cell
from test_utils import evidence

SEED = 424242
UNET = "Image_segmentation_Unet"
REPO = Path(__file__).resolve().parents[3]
BUNDLES = exercise_book.load_bundles(REPO, "unet")


def _payload(exercise: str, answer: Any, part: str = "hidden", seed: int | None = SEED) -> dict[str, Any]:
    spec = BUNDLES[UNET]["exercises"][exercise]["spec"]
    return json.loads(json.dumps(evidence.collect(spec, answer, part, seed)))  # as it arrives in a notebook


@pytest.fixture(scope="module")
def cache() -> ReferenceCache:
    return ReferenceCache(BUNDLES)


@pytest.fixture(scope="module")
def good(cache: ReferenceCache) -> dict[str, Any]:
    return _payload("conv_block", cache.references(UNET).function("conv_block"))


def test_a_correct_answer_passes(good: dict[str, Any], cache: ReferenceCache) -> None:
    verdict = judge_cell(UNET, "test_conv_block_hidden", [good], SEED, cache)
    assert verdict is not None and verdict.ok, verdict


def test_cells_of_other_notebooks_are_not_judged_but_evidence_without_references_fails(
        good: dict[str, Any], cache: ReferenceCache) -> None:
    assert judge_cell("toy", "test_conv_block_hidden", [], SEED, cache) is None
    assert judge_cell(UNET, "test_something_else", [], SEED, cache) is None
    verdict = judge_cell("toy", "test_conv_block_hidden", [good], SEED, cache)  # a check with no released references
    assert verdict is not None and not verdict.ok and verdict.bad_evidence and "references/" in verdict.reason


def test_without_a_challenge_the_fixed_cases_are_judged(cache: ReferenceCache) -> None:
    """Plain ``nbgrader autograde`` gives the kernel no challenge seed: the judge still decides the fixed cases."""
    answer = cache.references(UNET).function("conv_block")
    assert judge_cell(UNET, "test_conv_block_hidden", [_payload("conv_block", answer, seed=None)], None, cache).ok
    wrong = _mutated(_payload("conv_block", answer, seed=None), _drop_activation)
    verdict = judge_cell(UNET, "test_conv_block_hidden", [wrong], None, cache)
    assert verdict is not None and not verdict.ok and not verdict.bad_evidence


def _mutated(payload: dict[str, Any], change: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    change(changed)
    return changed


def _drop_activation(p: dict[str, Any]) -> None:
    del p["cases"][0]["description"]["layers"][2][2]["activation"]


def _tamper_numbers(p: dict[str, Any]) -> None:
    p["cases"][-1]["numbers"]["inference"][0]["projections"][3] += 0.5


@pytest.mark.parametrize("name, change, bad_evidence, text", [
    ("wrong setting", _drop_activation, False, "layer 3 (Conv2D): activation is left at Keras's default"),
    ("forged numbers", _tamper_numbers, False, "differs from the reference's with the same weights"),
    ("other run", lambda p: p.update(challenge=SEED + 1), True, "another grading run"),
    ("no challenge case", lambda p: p["cases"].pop(), True, "does not cover the cases"),
    ("nested type", lambda p: p["cases"][0].update(description={"layers": "x", "outputs": []}), True, "malformed"),
    ("not finite", lambda p: p["cases"][0]["description"]["layers"][1][2].update(rate=float("nan")), True, "not finite"),
    ("schema", lambda p: p.update(schema=2), True, "schema"),
    ("huge", lambda p: p.update(padding="x" * (MAX_EVIDENCE_BYTES + 1)), True, "bytes, more than"),
    ("deep", lambda p: p.update(deep=json.loads("[" * 40 + "]" * 40)), True, "nested too deeply"),
    ("error recorded", lambda p: p["cases"][1].update(error="ValueError: no"), False, "conv_block failed: ValueError"),
])
def test_bad_or_wrong_evidence_fails_with_a_reason(good: dict[str, Any], cache: ReferenceCache, name: str,
                                                   change: Any, bad_evidence: bool, text: str) -> None:
    verdict = judge_cell(UNET, "test_conv_block_hidden", [_mutated(good, change)], SEED, cache)
    assert verdict is not None and not verdict.ok, name
    assert verdict.bad_evidence is bad_evidence and text in verdict.reason, verdict


def test_missing_or_doubled_evidence(good: dict[str, Any], cache: ReferenceCache) -> None:
    assert judge_cell(UNET, "test_conv_block_hidden", [], SEED, cache).reason.startswith("no evidence")
    assert "2 evidence outputs" in judge_cell(UNET, "test_conv_block_hidden", [good, good], SEED, cache).reason


def test_evidence_copied_from_a_students_machine_is_refused(cache: ReferenceCache) -> None:
    local = _payload("conv_block", cache.references(UNET).function("conv_block"), part="public", seed=None)
    verdict = judge_cell(UNET, "test_conv_block", [local], SEED, cache)
    assert verdict is not None and not verdict.ok and verdict.bad_evidence


def test_preprocessor_scores_through_error_outputs(good: dict[str, Any]) -> None:
    def cell(grade_id: str, payloads: list[Any]) -> nbformat.NotebookNode:
        code = nbformat.v4.new_code_cell("check()")
        code.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": 4, "solution": False,
                                     "locked": True, "schema_version": 3}
        code.outputs = [nbformat.v4.new_output("stream", text="All tests passed!\n")] + [
            nbformat.v4.new_output("display_data", data={evidence.MIME: p}) for p in payloads]
        return code

    nb = nbformat.v4.new_notebook(cells=[cell("test_conv_block_hidden", [good]),
                                         cell("test_upsampling_block_hidden", []),
                                         cell("test_unet_model_hidden", [_mutated(good, _drop_activation)])])
    judge = JudgeEvidence(challenge=SEED, bundles=BUNDLES)
    nb, _ = judge.preprocess(nb, {"unique_key": UNET})
    kinds = [[o.get("ename") or o["output_type"] for o in c.outputs] for c in nb.cells]
    assert kinds[0] == ["stream"]                       # judged, passed; the evidence is taken out
    assert kinds[1] == ["stream", EVIDENCE_ERROR]       # no evidence: 0, with the reason
    assert kinds[2] == ["stream", EVIDENCE_ERROR]       # conv_block's evidence in unet_model's cell
    assert all(evidence.MIME not in o.get("data", {}) for c in nb.cells for o in c.outputs)
    assert VERDICT_ERROR != EVIDENCE_ERROR


def test_frozen_references_are_what_the_solutions_give(cache: ReferenceCache) -> None:
    """The references the release froze into the bundle are what the notebook's solution cells build today."""
    from autograder.run.judge.verdict import compute_frozen

    assert BUNDLES[UNET]["frozen"] == json.loads(json.dumps(compute_frozen(cache.references(UNET)))), \
        "references/unet is stale: run `python -m autograder release unet` and commit it"
