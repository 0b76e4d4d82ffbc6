"""comparator(): every field, every layer, messages a student can act on, colour only where rendered."""
from __future__ import annotations

import sys
import types

import pytest

from test_utils import comparator, strip_ansi

CONV = ['Conv2D', (None, 8, 8, 4), 112, 'same', 'relu', 'HeNormal']
EXPECTED = [
    ['InputLayer', [(None, 8, 8, 3)], 0],
    CONV,
    ['Dropout', (None, 8, 8, 4), 0, 0.1],
    ['MaxPooling2D', (None, 4, 4, 4), 0, (2, 2)],
    ['Conv2DTranspose', (None, 8, 8, 4), 148],
    ['Concatenate', (None, 8, 8, 8), 0],
]


@pytest.fixture(autouse=True)
def _plain(monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def _with(index: int, position: int, value) -> list:
    rows = [list(row) for row in EXPECTED]
    rows[index][position] = value
    return rows


def _failure(learner, instructor=EXPECTED) -> str:
    with pytest.raises(AssertionError) as failure:
        comparator(learner, instructor)
    return str(failure.value)


def test_identical_lists_print_exactly_all_tests_passed(capsys) -> None:
    comparator([list(row) for row in EXPECTED], EXPECTED)
    assert capsys.readouterr().out == "All tests passed!\n"


def test_list_and_tuple_containers_and_float_rounding_are_equal(capsys) -> None:
    learner = [tuple(row) for row in EXPECTED]
    learner[0] = ('InputLayer', ((None, 8, 8, 3),), 0)
    learner[2] = ('Dropout', (None, 8, 8, 4), 0, 0.1000000001)
    comparator(learner, EXPECTED)
    assert capsys.readouterr().out == "All tests passed!\n"


@pytest.mark.parametrize(("index", "position", "value", "expected_text"), [
    (1, 3, 'valid', "layer 2 (Conv2D): padding is 'valid', expected 'same' — did you pass padding='same'?"),
    (1, 4, 'linear', "layer 2 (Conv2D): activation is 'linear', expected 'relu' — did you pass activation='relu'?"),
    (1, 5, 'GlorotUniform', "layer 2 (Conv2D): initializer is 'GlorotUniform', expected 'HeNormal' — "
                            "did you pass kernel_initializer='he_normal'?"),
    (1, 2, 56, "layer 2 (Conv2D): has 56 parameters, expected 112 — check filters and kernel_size"),
    (1, 1, (None, 8, 8, 2), "layer 2 (Conv2D): output shape is (None, 8, 8, 2), expected (None, 8, 8, 4) — check"),
    (0, 1, [(None, 8, 8, 1)], "layer 1 (InputLayer): output shape is [(None, 8, 8, 1)], expected "
                              "[(None, 8, 8, 3)] — check the shape passed to Input(...)"),
    (2, 3, 0.3, "layer 3 (Dropout): rate is 0.3, expected 0.1 — did you pass the dropout probability 0.1 "
                "to Dropout?"),
    (3, 3, (3, 3), "layer 4 (MaxPooling2D): pool size is (3, 3), expected (2, 2) — did you pass pool_size=(2, 2)?"),
    (4, 2, 100, "layer 5 (Conv2DTranspose): has 100 parameters, expected 148"),
    (5, 1, (None, 8, 8, 6), "layer 6 (Concatenate): output shape is (None, 8, 8, 6), expected (None, 8, 8, 8)"),
])
def test_each_field_is_named_with_both_values(index, position, value, expected_text) -> None:
    message = _failure(_with(index, position, value))
    assert expected_text in message
    assert message.startswith("Your model does not match the expected one (layers counted from 1;")
    assert message.count("\n  - ") == 1


def test_every_difference_is_listed() -> None:
    learner = _with(1, 4, 'linear')
    learner[3][3] = (3, 3)
    message = _failure(learner)
    assert "activation is 'linear'" in message and "pool size is (3, 3)" in message


def test_wrong_layer_class_names_both_classes() -> None:
    learner = [list(row) for row in EXPECTED]
    learner[2] = ['BatchNormalization', (None, 8, 8, 4), 16]
    assert "layer 3 is a BatchNormalization layer, expected a Dropout layer" in _failure(learner)


def test_missing_layer_in_the_middle_is_named() -> None:
    learner = [row for i, row in enumerate(EXPECTED) if i != 2]
    message = _failure(learner)
    assert "it has 5 layers, expected 6" in message
    assert "missing a Dropout layer after layer 2 (Conv2D): expected ['Dropout', (None, 8, 8, 4), 0, 0.1]" in message
    assert message.count("\n  - ") == 1  # the layers after the gap are matched, not all reported


def test_missing_first_layer_and_empty_model() -> None:
    assert "missing an InputLayer layer at the start" in _failure(EXPECTED[1:])
    assert "it has 0 layers, expected 6" in _failure([])


def test_extra_layers_at_the_end_are_named() -> None:
    message = _failure(EXPECTED + [['Dropout', (None, 8, 8, 8), 0, 0.5]])
    assert "layer 7 (Dropout) is extra" in message


def test_summary_row_with_a_different_number_of_fields() -> None:
    learner = _with(1, 1, (None, 8, 8, 4))
    learner[1] = learner[1][:3]
    assert "layer 2 (Conv2D): the summary has 3 fields, expected 6" in _failure(learner)


def test_long_lists_of_problems_are_capped() -> None:
    instructor = [['Dense', (None, i), i] for i in range(1, 40)]
    learner = [['Dense', (None, i + 1), i] for i in range(1, 40)]
    message = _failure(learner, instructor)
    assert "... and 27 more" in message


def test_no_colour_when_not_a_terminal() -> None:
    assert "\x1b[" not in _failure(_with(1, 4, 'linear'))


def test_colour_with_force_color_and_never_with_no_color(monkeypatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    coloured = _failure(_with(1, 4, 'linear'))
    assert "\x1b[31m'linear'\x1b[0m" in coloured
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _failure(_with(1, 4, 'linear'))
    assert "\x1b[" not in plain
    assert strip_ansi(coloured) == plain


def test_colour_in_a_jupyter_kernel(monkeypatch) -> None:
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert "\x1b[" in _failure(_with(1, 4, 'linear'))
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in _failure(_with(1, 4, 'linear'))


def test_plain_ipython_terminal_without_kernel_is_not_treated_as_jupyter(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert "\x1b[" not in _failure(_with(1, 4, 'linear'))


@pytest.mark.parametrize(("learner", "instructor", "text"), [
    (None, EXPECTED, "comparator(): the first argument (your model's summary) should be a list of layer "
                     "descriptions, as summary(model) returns, got None."),
    (EXPECTED, "EXPECTED", "the second argument (the expected summary) should be a list of layer descriptions"),
    ([['Conv2D', (None, 8, 8, 4)]], EXPECTED, "item 0 of the first argument (your model's summary) should be a "
                                              "layer description such as ['Conv2D'"),
    (EXPECTED, [CONV, 'Conv2D'], "item 1 of the second argument (the expected summary) should be"),
    ([[(None, 8), 'Dense', 3]], EXPECTED, "got [(None, 8), 'Dense', 3]"),
])
def test_wrong_argument_shapes_raise_type_error(learner, instructor, text) -> None:
    with pytest.raises(TypeError) as failure:
        comparator(learner, instructor)
    assert text in str(failure.value)


def test_passing_a_model_instead_of_its_summary(block_model) -> None:
    with pytest.raises(TypeError) as failure:
        comparator(block_model((8, 8, 3), 2), EXPECTED)
    assert str(failure.value) == ("comparator(): the first argument (your model's summary) should be the list that "
                                  "summary(model) returns, got a Keras Functional model: call summary(model) first.")
