"""The hidden-test snippet gets checks that an earlier answer cell cannot switch off."""
from __future__ import annotations

import builtins
import sys
import textwrap
import types

import pytest

import test_utils
import test_utils.compare
import test_utils.layer_summary
import test_utils._isolation
import test_utils._keras


def _snippet() -> str:
    """The snippet exactly as the package docstring shows it."""
    lines = test_utils.__doc__.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("import runpy, sys"))
    return textwrap.dedent("\n".join(lines[start:start + 3]))


HIDDEN_CELL = "tu.comparator(tu.summary(model), expected)\n"


def _student_tampering(monkeypatch: pytest.MonkeyPatch, expected: list) -> dict:
    """Everything an answer cell could do to test_utils; returns the notebook namespace."""
    def silent(*args, **kwargs):
        print("All tests passed!")

    for module in (test_utils, test_utils.compare):
        monkeypatch.setattr(module, "comparator", silent)
    for module in (test_utils, test_utils.layer_summary):
        monkeypatch.setattr(module, "summary", lambda model: expected)
    monkeypatch.setattr(test_utils, "private_copy", lambda *a: test_utils)
    monkeypatch.setattr(test_utils._isolation, "private_copy", lambda *a: test_utils)
    monkeypatch.setattr(test_utils._keras, "layer_output_shapes", lambda layer: [(None,)])
    monkeypatch.setattr(test_utils, "__path__", ["/nonexistent"])
    monkeypatch.setattr(test_utils, "__spec__", None)
    monkeypatch.setitem(sys.modules, "test_utils.compare", types.SimpleNamespace(comparator=silent))
    return {"__builtins__": builtins, "comparator": silent, "summary": lambda model: expected,
            "next": None, "getattr": None, "open": None, "tu": test_utils}


def _linear_block_model(keras, layers):
    inputs = keras.Input((8, 8, 3))
    conv = layers.Conv2D(2, 3, activation="relu", padding="same", kernel_initializer="he_normal")(inputs)
    conv = layers.Conv2D(2, 3, padding="same", kernel_initializer="he_normal")(conv)  # forgot activation
    return keras.Model(inputs, [layers.MaxPooling2D(2)(conv), conv])


def test_snippet_is_three_lines_and_only_binds_its_own_names() -> None:
    snippet = _snippet()
    assert len(snippet.splitlines()) == 3
    assert snippet.splitlines()[0].startswith("import runpy, sys")


def test_private_copy_still_fails_a_wrong_model_after_tampering(monkeypatch, keras, layers, block_model,
                                                                  capsys) -> None:
    expected = summary_of_reference = test_utils.summary(block_model((8, 8, 3), 2))
    model = _linear_block_model(keras, layers)
    namespace = _student_tampering(monkeypatch, summary_of_reference)
    exec("comparator(summary(model), expected)", {**namespace, "model": model, "expected": expected})
    assert capsys.readouterr().out == "All tests passed!\n"  # the tampered public names are fooled

    namespace.update(model=model, expected=expected)
    with pytest.raises(AssertionError) as failure:
        exec(_snippet() + "\n" + HIDDEN_CELL, namespace)
    assert "layer 3 (Conv2D): activation is 'linear', expected 'relu'" in str(failure.value)
    assert "All tests passed!" not in capsys.readouterr().out
    assert namespace["tu"] is not test_utils
    assert not [name for name in sys.modules if name.startswith("_test_utils_private_")]


def test_private_copy_passes_a_right_model_and_has_every_check(block_model, capsys) -> None:
    namespace = {"__builtins__": builtins, "model": block_model((8, 8, 3), 2),
                 "expected": test_utils.summary(block_model((8, 8, 3), 2))}
    exec(_snippet() + "\n" + HIDDEN_CELL, namespace)
    assert capsys.readouterr().out == "All tests passed!\n"
    copy = namespace["tu"]
    for name in test_utils.__all__:
        assert getattr(copy, name) is not getattr(test_utils, name), name
    assert copy.compare.comparator is copy.comparator
    model = namespace["model"]
    assert copy.differences(copy.describe(model), copy.describe(model)) == []


def test_two_private_copies_are_independent() -> None:
    first, second = test_utils.private_copy(), test_utils.private_copy()
    assert first is not second and first.__name__ != second.__name__
    first.compare.comparator = None
    assert callable(second.comparator)


def test_private_copy_refuses_a_folder_without_the_package(tmp_path) -> None:
    with pytest.raises(ImportError, match="no test_utils package"):
        test_utils.private_copy(str(tmp_path))
