"""The deeper checks: convolution geometry, merge inputs and axis, block outputs, logits."""
from __future__ import annotations

import dataclasses

import pytest

from test_utils import (assert_ok, block_outputs, check_block_outputs, check_conv_layers, check_merge_layers,
                        check_output_activation, conv_layers, merge_layers, output_activations)


# --- convolutions ---------------------------------------------------------------------------

def test_conv_facts_are_normalised_across_spellings(keras, layers) -> None:
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(filters=4, kernel_size=(3, 3), strides=(1, 1), padding="same")(inputs)
    x = layers.Conv2D(4, 3)(x)
    x = layers.Conv2DTranspose(2, kernel_size=2, strides=2)(x)
    facts = conv_layers(keras.Model(inputs, x))
    assert [(f.layer.class_name, f.filters, f.kernel_size, f.strides, f.padding) for f in facts] == [
        ("Conv2D", 4, (3, 3), (1, 1), "same"), ("Conv2D", 4, (3, 3), (1, 1), "valid"),
        ("Conv2DTranspose", 2, (2, 2), (2, 2), "valid")]
    assert [f.layer.index for f in facts] == [1, 2, 3]
    only_transpose = conv_layers(keras.Model(inputs, x), layer_class="Conv2DTranspose")
    assert [f.layer.class_name for f in only_transpose] == ["Conv2DTranspose"]


def test_conv_check_passes_with_ints_names_and_initializer_spellings(upsampling_model) -> None:
    model = upsampling_model()
    result = check_conv_layers(model, {"kernel_size": 3, "padding": "same", "activation": "relu",
                                       "kernel_initializer": "he_normal", "filters": 4}, layer_class="Conv2D")
    assert result.ok and result.problems == () and len(result.layers) == 2
    transpose = check_conv_layers(model, [{"kernel_size": (3, 3), "strides": 2, "initializer": "GlorotUniform"}],
                                  layer_class="Conv2DTranspose")
    assert transpose.ok, transpose.problems


def test_conv_check_reports_kernel_size_and_strides(keras, layers) -> None:
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, layers.Conv2DTranspose(4, 2, strides=(1, 1), padding="same")(inputs))
    result = check_conv_layers(model, {"kernel_size": 3, "strides": 2}, layer_class="Conv2DTranspose")
    assert not result.ok
    assert "kernel_size is (2, 2), expected 3 — did you pass kernel_size=3?" in result.problems[0]
    assert "strides is (1, 1), expected 2 — did you pass strides=2?" in result.problems[1]
    assert result.problems[0].startswith("layer 2 (Conv2DTranspose '")


def test_conv_check_fails_when_no_layer_or_wrong_count(block_model) -> None:
    model = block_model((8, 8, 3), 2)
    assert check_conv_layers(model, {"strides": 2}, layer_class="Conv2DTranspose").problems == (
        "the model has no Conv2DTranspose layer",)
    result = check_conv_layers(model, [{"kernel_size": 3}], layer_class="Conv2D")
    assert "expected 1 Conv2D layers, found 2" in result.problems[0]


def test_conv_check_rejects_unknown_keys(block_model) -> None:
    with pytest.raises(TypeError, match="unknown key"):
        check_conv_layers(block_model((8, 8, 3), 2), {"kernel": 3})


def test_results_are_frozen(block_model) -> None:
    result = check_conv_layers(block_model((8, 8, 3), 2), {"kernel_size": 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ok = False  # type: ignore[misc]


# --- merges ---------------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["helper", "layer"])
@pytest.mark.parametrize("axis", [3, -1])
def test_merge_inputs_in_order_for_helper_and_layer_styles(upsampling_model, style, axis) -> None:
    right = upsampling_model(style=style, axis=axis)
    (fact,) = merge_layers(right)
    assert fact.layer.class_name == "Concatenate" and fact.axis == 3 and fact.rank == 4
    assert [ref.class_name for ref in fact.inputs] == ["Conv2DTranspose", "InputLayer"]
    assert fact.inputs[1].name == "contractive_input"
    spec = [{"class_name": "Concatenate", "inputs": ["Conv2DTranspose", "contractive_input"], "axis": -1}]
    assert check_merge_layers(right, spec).ok
    wrong = check_merge_layers(upsampling_model(order="skip_first", style=style, axis=axis), spec)
    assert not wrong.ok and "the order is reversed" in wrong.problems[0]


def test_merge_axis_mismatch_is_reported(keras, layers) -> None:
    a, b = keras.Input((4, 4, 2)), keras.Input((4, 4, 2))
    model = keras.Model([a, b], layers.concatenate([a, b], axis=1))
    result = check_merge_layers(model, [{"axis": -1}])
    assert result.problems == ("layer 3 (Concatenate '" + model.layers[2].name + "'): axis is 1, expected 3 "
                               "(for a 4-D tensor axis -1 and axis 3 are the same)",)


def test_add_layers_have_no_axis_and_count_is_checked(keras, layers) -> None:
    a, b = keras.Input((4, 4, 2)), keras.Input((4, 4, 2))
    model = keras.Model([a, b], layers.Add()([a, b]))
    (fact,) = merge_layers(model)
    assert fact.layer.class_name == "Add" and fact.axis is None
    assert check_merge_layers(model, [{"class_name": "Add", "inputs": ["InputLayer", "InputLayer"]}]).ok
    result = check_merge_layers(model, [{}, {}])
    assert "expected 2 merge layer(s) (e.g. Concatenate), found 1" in result.problems[0]


def test_merge_check_rejects_a_single_dict(upsampling_model) -> None:
    with pytest.raises(TypeError, match="a list of dicts, one per merge layer"):
        check_merge_layers(upsampling_model(), {"axis": 3})  # type: ignore[arg-type]


# --- block outputs --------------------------------------------------------------------------

def test_block_outputs_from_tensors_and_from_a_model(keras, conv_block, block_model) -> None:
    inputs = keras.Input((8, 8, 3))
    outputs = conv_block(inputs, 2, dropout_prob=0.2)
    assert [ref.class_name for ref in block_outputs(outputs)] == ["MaxPooling2D", "Dropout"]
    model = block_model((8, 8, 3), 2)
    refs = block_outputs(model)
    assert [(ref.class_name, ref.index) for ref in refs] == [("MaxPooling2D", 3), ("Conv2D", 2)]
    check = check_block_outputs(model, ["MaxPooling2D", ("Dropout", "Conv2D")], names=["next_layer", "skip"])
    assert check.ok


def test_block_returning_the_wrong_tensor(keras, layers) -> None:
    def swapped_block(inputs, n_filters=2):
        conv = layers.Conv2D(n_filters, 3, padding="same")(inputs)
        return conv, layers.MaxPooling2D(2)(conv)

    result = check_block_outputs(swapped_block(keras.Input((8, 8, 3))), ["MaxPooling2D", "Conv2D"],
                                 names=["next_layer", "skip_connection"])
    assert not result.ok
    assert result.problems[0].startswith("next_layer comes from Conv2D '")
    assert result.problems[0].endswith("expected the output of a MaxPooling2D layer — check which tensor you "
                                       "return there")
    assert result.problems[1].startswith("skip_connection comes from MaxPooling2D '")


def test_block_returning_a_layer_or_too_few_values(keras, layers) -> None:
    inputs = keras.Input((8, 8, 3))
    conv = layers.Conv2D(2, 3)
    result = check_block_outputs((conv, conv(inputs)), ["MaxPooling2D", "Conv2D"])
    assert result.producers[0] is None
    assert "output 1 is a Keras Conv2D layer, expected the tensor a MaxPooling2D layer returns" in result.problems[0]
    single = check_block_outputs(conv(inputs), ["MaxPooling2D", "Conv2D"], names=["next_layer", "skip_connection"])
    assert "the block returns 1 value(s), expected 2 (next_layer, skip_connection)" in single.problems[0]
    with pytest.raises(TypeError, match="expected what a block returns"):
        block_outputs(None)


# --- output activation ----------------------------------------------------------------------

@pytest.mark.parametrize(("head", "activation"), [
    ("conv_linear", "linear"), ("conv_softmax", "softmax"), ("activation_layer", "softmax"),
    ("softmax_layer", "softmax"), ("sigmoid_then_reshape", "sigmoid"),
])
def test_output_activation_is_found(keras, layers, head, activation) -> None:
    inputs = keras.Input((4, 4, 2))
    if head == "conv_linear":
        x = layers.Conv2D(3, 1, padding="same")(inputs)
    elif head == "conv_softmax":
        x = layers.Conv2D(3, 1, activation="softmax")(inputs)
    elif head == "activation_layer":
        x = layers.Activation("softmax")(layers.Conv2D(3, 1)(inputs))
    elif head == "softmax_layer":
        x = layers.Softmax()(layers.Conv2D(3, 1)(inputs))
    else:
        x = layers.Reshape((48,))(layers.Conv2D(3, 1, activation="sigmoid")(inputs))
    model = keras.Model(inputs, x)
    ((_, found),) = output_activations(model)
    assert found == activation
    assert check_output_activation(model, "logits").ok is (activation == "linear")
    assert check_output_activation(model, "probabilities").ok is (activation != "linear")


def test_output_activation_message_and_assert_ok(keras, layers, capsys) -> None:
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, layers.Conv2D(3, 1, activation="softmax")(inputs))
    result = check_output_activation(model, "logits")
    assert result.activations == ("softmax",)
    assert result.problems[0].endswith("with activation 'softmax', expected logits — leave the last layer "
                                       "without activation (activation=None): the loss works on logits")
    with pytest.raises(AssertionError) as failure:
        assert_ok(check_output_activation(model, "softmax"), result)
    assert str(failure.value).startswith("The model is not built as asked:\n  - the model's output comes from")
    assert_ok(check_output_activation(model, "softmax"))
    assert capsys.readouterr().out == "All tests passed!\n"
    with pytest.raises(TypeError, match="expected must be 'logits'"):
        check_output_activation(model, "relu")
    with pytest.raises(TypeError, match="assert_ok\\(\\) expects results"):
        assert_ok(True)  # type: ignore[arg-type]
