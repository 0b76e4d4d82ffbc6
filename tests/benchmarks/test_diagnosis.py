"""The benchmark's judge of first lines: it reads what a mutant changed from its record, and can say no."""
from __future__ import annotations

import pytest

from benchmarks.mutants import diagnosis
from benchmarks.mutants import generate as gen


@pytest.fixture(scope="module")
def mutants() -> dict[str, gen.Mutant]:
    return {f"{m.assignment}/{m.key}": m for m in gen.generate()}


def _find(mutants: dict[str, gen.Mutant], assignment: str, exercise: str, key: str) -> gen.Mutant:
    return mutants[f"{assignment}/{exercise}/{key}"]


def test_the_target_is_read_from_the_record(mutants: dict[str, gen.Mutant]) -> None:
    m = _find(mutants, "unet", "conv_block", "Conv2D#1:use_bias=False")
    assert diagnosis.target(m) == diagnosis.Target("setting", "Conv2D", 1, "use_bias")
    m = _find(mutants, "unet", "upsampling_block", "concatenate#1:swapped")
    assert diagnosis.target(m).change == "order" and diagnosis.target(m).cls == "Concatenate"
    assert diagnosis.target(_find(mutants, "unet", "conv_block", "Dropout#1:removed")).change == "missing"
    assert diagnosis.target(_find(mutants, "unet_variants", "mean_iou", "no-reset")).words == ("reset_state",)


def test_a_setting_must_be_named_on_the_mutated_layer(mutants: dict[str, gen.Mutant]) -> None:
    m = _find(mutants, "unet", "conv_block", "Conv2D#1:use_bias=False")
    built = [{"layers": [["InputLayer", None, {}, []], ["Conv2D", None, {}, [1]], ["Conv2D", None, {}, [2]]],
              "outputs": [3]}]
    named = "layer 2 (Conv2D): use_bias is False, expected it left at Keras's default (case 1: ...)"
    assert diagnosis.diagnosed(m, named, built, in_source=2)
    assert not diagnosis.diagnosed(m, named.replace("layer 2", "layer 3"), built, in_source=2)  # the other Conv2D
    assert not diagnosis.diagnosed(m, "layer 2 (Conv2D): has 864 parameters, expected 896", built, in_source=2)
    assert not diagnosis.diagnosed(m, "layer 3 (Conv2D): output shape is (None, 4), expected (None, 8)", built)
    assert not diagnosis.diagnosed(m, None)


def test_structural_changes_and_consequences(mutants: dict[str, gen.Mutant]) -> None:
    removed = _find(mutants, "unet", "conv_block", "Dropout#1:removed")
    assert diagnosis.diagnosed(removed, "A Dropout layer is missing after layer 3 (Conv2D): expected Dropout with {}")
    assert not diagnosis.diagnosed(removed, "the model has 4 layers, expected 5")
    swapped = _find(mutants, "unet", "upsampling_block", "concatenate#1:swapped")
    assert diagnosis.diagnosed(swapped, "layer 4 (Concatenate) takes layer 2 (InputLayer), layer 3 (Conv2DTranspose), "
                                        "in that order; expected ...: the same tensors, in another order")
    assert not diagnosis.diagnosed(swapped, "layer 2 is an InputLayer layer, expected a Conv2DTranspose layer")
    default = next(m for m in mutants.values() if m.operator == "param-default")
    assert diagnosis.diagnosed(default, "layer 2 (Conv2D): filters is 32, expected 4")
    assert not diagnosis.diagnosed(default, "layer 2 (Conv2D): output shape is (None, 8, 8, 32), expected (None, 8, 8, 4)")
    assert not diagnosis.diagnosed(default, "conv_block failed: ValueError: Inputs have incompatible shapes")


def test_a_metric_mistake_needs_its_own_words(mutants: dict[str, gen.Mutant]) -> None:
    m = _find(mutants, "unet_variants", "mean_iou", "no-reset")
    assert diagnosis.diagnosed(m, "after reset_state the metric still counts earlier batches: ...")
    assert not diagnosis.diagnosed(m, "after batch 1 the mean IoU is 0.20000, expected 0.50000")
