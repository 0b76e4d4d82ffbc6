"""The mutation-testing benchmark: its generator, its oracle on known cases, and a graded sample."""
from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # --import-mode=importlib does not put the root on sys.path
    sys.path.insert(0, str(REPO))

from benchmarks.mutants import generate as gen  # noqa: E402
from benchmarks.mutants import metric_ops  # noqa: E402


@pytest.fixture(scope="module")
def mutants() -> list[gen.Mutant]:
    return gen.generate()


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, str]]:
    return {a: gen.solutions(a) for a in gen.assignments()}


def _kind(assignment: str, exercise: str) -> str:
    return next(e.meta["kind"] for e in gen.book(assignment).entries if e.name == exercise)


def test_assignments_are_the_source_folders_with_exercises() -> None:
    found = gen.assignments()
    assert {"unet", "unet_variants", "unet_attention"} <= set(found)
    for assignment, path in found.items():
        assert path.parent == REPO / "source" / assignment and gen.book(assignment).entries


def test_enough_distinct_mutants_that_parse(mutants: list[gen.Mutant], answers: dict[str, dict[str, str]]) -> None:
    assert len(mutants) >= 150
    assert len({m.id for m in mutants}) == len({m.key for m in mutants}) == len(mutants)
    codes = set()
    for m in mutants:
        tree = ast.parse(m.code)  # every mutant is valid Python ...
        assert ast.dump(tree) != ast.dump(ast.parse(answers[m.assignment][m.exercise])), m.key  # ... and changed
        codes.add((m.exercise, ast.dump(tree)))
    assert len(codes) == len(mutants)  # no two mutants are the same code
    for assignment, exercises in answers.items():
        for exercise in exercises:  # every exercise has mistakes and equivalent rewrites
            mine = [m for m in mutants if m.assignment == assignment and m.exercise == exercise]
            assert sum(m.intended is True for m in mine) >= 2 and sum(m.intended is False for m in mine) >= 10, exercise


def test_operators_follow_the_kind(mutants: list[gen.Mutant]) -> None:
    """Layer operators for blocks, plus the stand-in calls for models, metric operators for metrics."""
    by_kind: dict[str, set[str]] = {}
    for m in mutants:
        by_kind.setdefault(_kind(m.assignment, m.exercise), set()).add(m.operator)
    assert by_kind["metric"] <= {"metric", "rewrite", "example"}
    assert {"arg", "remove", "rewire", "param-default"} <= by_kind["block"] and "block-arg" not in by_kind["block"]
    assert "block-arg" in by_kind["model"] and "metric" not in by_kind["block"] | by_kind["model"]
    # the layers the attention lesson uses have their mutants: merges, activations, upsampling
    keys = {m.key for m in mutants if m.assignment == "unet_attention"}
    for key in ("attention_gate/Add#1:swapped", "attention_gate/Multiply#1:removed", "attention_gate/Add#1:function",
                "attention_gate/Activation#1:activation='sigmoid'", "attention_gate/UpSampling2D#1:size=(3, 3)",
                "residual_block/BatchNormalization#1:call(training=True)", "residual_block/Add#1:removed"):
        assert key in keys, key


def test_stand_in_calls_use_the_signatures_of_the_solutions(mutants: list[gen.Mutant]) -> None:
    """A model's block calls are mutated with the parameters the solution cells give those blocks."""
    for assignment in gen.assignments():
        book = gen.book(assignment)
        for entry in book.entries:
            if entry.meta["kind"] != "model":
                continue
            ctx = gen.context(book, entry, assignment)
            for name in entry.meta["stand_ins"]:
                fn = next(n for e in book.entries for n in ast.parse(e.solution).body
                          if isinstance(n, ast.FunctionDef) and n.name == name)
                assert ctx.signatures[name] == tuple(a.arg for a in fn.args.args)
    unet = {m.key: m for m in mutants if m.exercise == "unet_model" and m.operator == "block-arg"}
    assert {"unet_model/enc4:dropout_prob=0.5", "unet_model/bottleneck:max_pooling=-", "unet_model/enc1:max_pooling=False",
            "unet_model/dec1:contractive_input=enc3[1]", "unet_model/dec4:n_filters=n_filters * 2"} <= set(unet)


def test_every_metric_pattern_applies_to_the_kit_metric(mutants: list[gen.Mutant]) -> None:
    """The metric operators' patterns still match the metric's solution (a stale one would silently vanish)."""
    entry = next(e for a in gen.assignments() for e in gen.book(a).entries if e.meta["kind"] == "metric")
    keys = {m.key.split("/", 1)[1] for m in mutants if m.exercise == entry.name}
    public = str(entry.meta["public"][0]["classes"])
    for key, *_ in metric_ops._METRIC:
        assert key.replace("{public}", public) in keys, key


def test_discovery_needs_no_table(tmp_path: Path, mutants: list[gen.Mutant]) -> None:
    """A notebook with exercises in any folder of source/ is found and mutated like the kit's own."""
    (tmp_path / "source" / "lesson_x").mkdir(parents=True)
    (tmp_path / "source" / "no_exercises").mkdir()
    shutil.copy(gen.assignments()["unet_attention"], tmp_path / "source" / "lesson_x" / "Gate.ipynb")
    assert list(gen.assignments(tmp_path)) == ["lesson_x"]
    theirs = [(m.key, m.code) for m in gen.generate(repo=tmp_path)]
    assert theirs == [(m.key, m.code) for m in mutants if m.assignment == "unet_attention"]


def test_ids_do_not_depend_on_the_selection(mutants: list[gen.Mutant]) -> None:
    only = gen.generate(("unet_variants",))
    assert [(m.id, m.key) for m in only] == [(m.id, m.key) for m in mutants if m.assignment == "unet_variants"]


def test_sample_is_deterministic_with_equivalents(mutants: list[gen.Mutant]) -> None:
    picked = gen.sample(mutants, 8)
    assert picked == gen.sample(mutants, 8)
    for assignment in gen.assignments():
        mine = [m for m in picked if m.assignment == assignment]
        assert len(mine) == 8 and sum(m.intended is True for m in mine) == 2


def test_oracle_settings_are_the_cases_the_check_cells_run() -> None:
    """The oracle's public (and hidden) settings are the cases of the grader's bundles, which the check cells
    carry: the oracle reads them from the notebook, as the release does."""
    from autograder.course import exercise_book
    from benchmarks.mutants import oracle

    for assignment, path in gen.assignments().items():
        bundle = exercise_book.load_bundles(REPO, assignment)[path.stem]
        for entry in gen.book(assignment).entries:
            spec = bundle["exercises"][entry.name]["spec"]
            for part in ("public", "hidden"):
                if entry.meta["kind"] == "metric":
                    mine = [s.case for s in oracle.metric_settings(entry) if s.label.startswith(part)]
                    assert mine == spec[part], (entry.name, part)
                    continue
                mine = [{"kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in s.kwargs.items()}}
                        | ({"inputs": [list(x) for x in s.shapes]} if entry.meta["kind"] == "block" else {})
                        for s in oracle.settings(entry) if s.label.startswith(part)]
                theirs = [{k: v for k, v in case.items() if k in ("inputs", "kwargs")} for case in spec[part]]
                assert mine == theirs, (entry.name, part)
                assert all(s.public == (part == "public") for s in oracle.settings(entry) if s.label.startswith(part))


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


def test_oracle_takes_a_commutative_merge_in_either_order(oracle) -> None:
    """Add([phi, theta]), Multiply([coefficients, skip]), Add([shortcut, main]): the same function with the same
    weights, so the generator means them as equivalent rewrites and the oracle rates them so."""
    swapped = {m.key: m for m in gen.generate(("unet_attention",)) if m.key.endswith(":swapped")}
    for key in ("attention_gate/Add#1:swapped", "attention_gate/Multiply#1:swapped", "residual_block/Add#1:swapped"):
        mutant = swapped[key]
        assert mutant.intended is True, mutant
        verdict = oracle.judge_code("unet_attention", mutant.exercise, mutant.code)
        assert verdict.equivalent, (key, verdict)


def test_oracle_holds_a_concatenation_to_its_order_in_every_lesson(oracle) -> None:
    """A swapped Concatenate is a mistake wherever a solution concatenates, and the generator means it as one."""
    found = [m for m in gen.generate(("unet", "unet_variants")) if m.operator == "concat" and m.key.endswith(":swapped")]
    assert {m.assignment for m in found} == {"unet", "unet_variants"}, found
    for mutant in found[:2]:
        assert mutant.intended is False
        verdict = oracle.judge_code(mutant.assignment, mutant.exercise, mutant.code)
        assert not verdict.equivalent and "merge" in verdict.reason, (mutant.key, verdict)


def test_oracle_judges_the_declared_examples(oracle) -> None:
    """Each exercise's declared alternative is equivalent, each declared mistake wrong where the public check runs."""
    for assignment in gen.assignments():
        for entry in gen.book(assignment).entries:
            examples = entry.meta.get("examples", {})
            for description, edits, wrong in ([("alternative", examples.get("alternative", []), False)]
                                              + [(m["student"], m["edits"], True) for m in examples.get("mistakes", [])]):
                if not edits:
                    continue
                code = entry.solution
                for old, new in edits:
                    code = _edit(code, old, new)
                verdict = oracle.judge_code(assignment, entry.name, code)
                assert verdict.equivalent != wrong and verdict.visible == wrong, (entry.name, description, verdict)


def test_oracle_builds_a_model_from_the_reference_blocks(oracle, answers: dict[str, dict[str, str]]) -> None:
    """A model exercise is built with the solution cells' blocks: its wiring mistakes show, and the blocks are the
    reference ones whatever the namespace held before."""
    code = _edit(answers["unet"]["unet_model"], "upsampling_block(dec3, enc1[1], n_filters)",
                 "upsampling_block(dec3, enc1[0], n_filters)")  # the pooled tensor: the shapes do not fit
    verdict = oracle.judge_code("unet", "unet_model", code)
    assert not verdict.equivalent and verdict.visible, verdict
    fn = oracle.load("unet", "unet_model", answers["unet"]["unet_model"])
    assert fn.__globals__["conv_block"].__code__.co_filename == "<solution conv_block>"


def test_oracle_sees_a_metric_mistake_only_hidden_settings_show(oracle, answers: dict[str, dict[str, str]]) -> None:
    code = _edit(answers["unet_variants"]["mean_iou"], "num_classes=self.num_classes, dtype=tf.float64",
                 "num_classes=5, dtype=tf.float64")  # right for the public check's 5 classes only
    verdict = oracle.judge_code("unet_variants", "mean_iou", code)
    assert not verdict.equivalent and not verdict.visible, verdict


def test_oracle_holds_the_text_to_its_defaults(oracle, answers: dict[str, dict[str, str]]) -> None:
    """A setting the exercise does not free is stated, even where behaviour cannot show it (a 1x1 convolution's
    padding); one it frees may take any value."""
    gate = _edit(answers["unet_attention"]["attention_gate"], "Conv2D(inter_channels, 1)(gating)",
                 "Conv2D(inter_channels, 1, padding='same')(gating)")
    verdict = oracle.judge_code("unet_attention", "attention_gate", gate)
    assert not verdict.equivalent and verdict.visible and "padding" in verdict.reason, verdict
    free = _edit(answers["unet"]["upsampling_block"], 'strides=2, padding="same")',
                 'strides=2, padding="same", kernel_initializer="he_normal")')  # freed for Conv2DTranspose
    assert oracle.judge_code("unet", "upsampling_block", free).equivalent


@pytest.mark.slow
def test_graded_sample_has_no_survivors_and_no_failed_equivalents(tmp_path: Path,
                                                                   released_course: Callable[[str], Path]) -> None:
    from benchmarks import bench_mutants

    # 4 per assignment (2 of them equivalent rewrites) keeps `make test` within CI's time; the benchmark grades more.
    # The assignments are released once per run for the whole suite (the benchmark releases and verifies its own).
    picked = gen.sample(gen.generate(), 4)
    verdicts = bench_mutants.run_oracle(picked)
    outcomes, controls = bench_mutants.run_grading(picked, jobs=2, keep=tmp_path, released=released_course)
    line, n = bench_mutants.report(picked, verdicts, outcomes, controls)
    assert not any(c.lost for c in controls.values()), controls
    assert n["S"] == 0 and n["F"] == 0, line
    caught = [m for m in picked if not verdicts[m.id].equivalent and outcomes[m.id].caught]
    assert all(outcomes[m.id].first for m in caught), [(m.id, outcomes[m.id]) for m in caught]
    assert line.endswith(f"; diagnosed {n['D']} of {n['C']}") and n["C"] == len(caught), line
    assert n["D"] >= 0.75 * n["C"], line  # the first line names the mistake (the full run: >= 95%)
