"""The mutation-testing benchmark: its generator, its oracle on known cases, and a graded sample."""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # --import-mode=importlib does not put the root on sys.path
    sys.path.insert(0, str(REPO))

from benchmarks.mutants import generate as gen  # noqa: E402


@pytest.fixture(scope="module")
def mutants() -> list[gen.Mutant]:
    return gen.generate()


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, str]]:
    return {a: gen.solutions(a) for a in gen.ASSIGNMENTS}


def test_enough_distinct_mutants_that_parse(mutants: list[gen.Mutant], answers: dict[str, dict[str, str]]) -> None:
    assert len(mutants) >= 150
    assert len({m.id for m in mutants}) == len({m.key for m in mutants}) == len(mutants)
    codes = set()
    for m in mutants:
        tree = ast.parse(m.code)  # every mutant is valid Python ...
        assert ast.dump(tree) != ast.dump(ast.parse(answers[m.assignment][m.exercise])), m.key  # ... and changed
        codes.add((m.exercise, ast.dump(tree)))
    assert len(codes) == len(mutants)  # no two mutants are the same code
    for assignment, (_, exercises) in gen.ASSIGNMENTS.items():
        for exercise in exercises:  # every exercise has mistakes and equivalent rewrites
            mine = [m for m in mutants if m.exercise == exercise]
            assert sum(m.intended is True for m in mine) >= 2 and sum(m.intended is False for m in mine) >= 10, exercise


def test_ids_do_not_depend_on_the_selection(mutants: list[gen.Mutant]) -> None:
    only = gen.generate(("unet_variants",))
    assert [(m.id, m.key) for m in only] == [(m.id, m.key) for m in mutants if m.assignment == "unet_variants"]


def test_sample_is_deterministic_with_equivalents(mutants: list[gen.Mutant]) -> None:
    picked = gen.sample(mutants, 8)
    assert picked == gen.sample(mutants, 8)
    for assignment in gen.ASSIGNMENTS:
        mine = [m for m in picked if m.assignment == assignment]
        assert len(mine) == 8 and sum(m.intended is True for m in mine) == 2


@pytest.fixture(scope="module")
def oracle():
    pytest.importorskip("tensorflow")
    from benchmarks.mutants.oracle import Oracle

    return Oracle()


def _edit(code: str, old: str, new: str) -> str:
    assert old in code
    return code.replace(old, new)


def test_oracle_finds_a_swapped_concatenation(oracle, answers: dict[str, dict[str, str]]) -> None:
    code = _edit(answers["unet"]["upsampling_block"], "concatenate([up, contractive_input], axis=3)",
                 "concatenate([contractive_input, up], axis=3)")
    verdict = oracle.judge_code("unet", "upsampling_block", code)
    assert not verdict.equivalent and verdict.visible, verdict


def test_oracle_accepts_the_demo_rewrite(oracle, answers: dict[str, dict[str, str]]) -> None:
    from autograder.instructor.examples import UNET_EXAMPLES

    code = answers["unet"]["upsampling_block"]
    for old, new in UNET_EXAMPLES[1].edits["upsampling_block"]:  # tf.keras.layers.Concatenate(axis=-1)([...])
        code = _edit(code, old, new)
    verdict = oracle.judge_code("unet", "upsampling_block", code)
    assert verdict.equivalent, verdict


def test_oracle_sees_a_metric_mistake_only_hidden_settings_show(oracle, answers: dict[str, dict[str, str]]) -> None:
    code = _edit(answers["unet_variants"]["mean_iou"], "num_classes=self.num_classes, dtype=tf.float64",
                 "num_classes=5, dtype=tf.float64")  # right for the public check's 5 classes only
    verdict = oracle.judge_code("unet_variants", "mean_iou", code)
    assert not verdict.equivalent and not verdict.visible, verdict


def test_oracle_mirrors_the_public_cells_cases() -> None:
    """The oracle's copies of the public cases are those the public check cells run (test_utils.exercises)."""
    pytest.importorskip("tensorflow")
    exercises = pytest.importorskip("test_utils.exercises")
    from benchmarks.mutants.oracle import PUBLIC_METRIC, SETTINGS

    def plain(value):  # tuples -> lists, as in the JSON cases
        return json.loads(json.dumps(value))

    for name, spec in exercises.EXERCISES.items():
        if spec.kind == "metric":
            assert [plain(PUBLIC_METRIC[0]), plain(PUBLIC_METRIC[1])] == [c["classes"] for c in spec.public] + \
                [[list(b) for b in c["batches"]] for c in spec.public], name
            continue
        mine = [{"kwargs": plain(s.kwargs)} if spec.kind == "unet" else {"inputs": plain(s.shapes), "kwargs": plain(s.kwargs)}
                for s in SETTINGS[name] if s.public]
        theirs = [{k: plain(v) for k, v in case.items() if k in ("inputs", "kwargs")} for case in spec.public]
        assert mine == theirs, name


@pytest.mark.slow
def test_graded_sample_has_no_survivors_and_no_failed_equivalents(tmp_path: Path) -> None:
    from benchmarks import bench_mutants

    # 4 per assignment (2 of them equivalent rewrites) keeps `make test` within CI's time; the benchmark grades more
    picked = gen.sample(gen.generate(), 4)
    verdicts = bench_mutants.run_oracle(picked)
    outcomes, controls = bench_mutants.run_grading(picked, jobs=2, keep=tmp_path)
    line, n = bench_mutants.report(picked, verdicts, outcomes, controls)
    assert not any(c.lost for c in controls.values()), controls
    assert n["S"] == 0 and n["F"] == 0, line
