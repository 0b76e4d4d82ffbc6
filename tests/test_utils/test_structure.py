"""The structural comparison: equivalent code gives the same description, every stated setting shows."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from test_utils import exercises, strip_ansi, structure

from autograder.course import exercise_book
from autograder.run.judge.references import References

REPO = Path(__file__).resolve().parents[2]
UNET = References(exercise_book.load_bundles(REPO, "unet")["Image_segmentation_Unet"])
VARIANTS = References(exercise_book.load_bundles(REPO, "unet_variants")["Unet_Variants"])


def _described(keras: Any, block: Callable[..., Any], *shapes: tuple[int, ...], **kwargs: Any) -> dict[str, Any]:
    inputs = [keras.Input(shape) for shape in shapes]
    out = block(*inputs, **kwargs)
    return structure.describe(keras.Model(inputs if len(inputs) > 1 else inputs[0], list(out) if isinstance(out, tuple) else out))


def _conv(layers: Any, *, activation: Any = "relu", second: dict[str, Any] | None = None, train: bool = False,
          swap: bool = False) -> Callable[..., Any]:
    def block(inputs: Any = None, n_filters: int = 32, dropout_prob: float = 0, max_pooling: bool = True) -> Any:
        x = layers.Conv2D(n_filters, 3, padding="same", activation=activation, kernel_initializer="he_normal")(inputs)
        x = layers.Conv2D(n_filters, 3, **{"padding": "same", "activation": "relu", "kernel_initializer": "he_normal",
                                           **(second or {})})(x)
        if train:
            x = layers.BatchNormalization()(x, training=True)
        out = layers.MaxPooling2D((2, 2))(x) if max_pooling else x
        return (x, out) if swap else (out, x)
    return block


def test_reference_description_is_plain_data(keras: Any) -> None:
    got = _described(keras, UNET.function("conv_block"), (16, 16, 3), n_filters=4)
    rows = got["layers"]
    assert [row[0] for row in rows] == ["InputLayer", "Conv2D", "Conv2D", "MaxPooling2D"]
    assert rows[1][2] == {"activation": "relu", "filters": 4, "kernel_initializer": "HeNormal",
                          "kernel_size": (3, 3), "padding": "same"}
    assert rows[2][3] == [2] and got["outputs"] == [4, 3]


def test_equivalent_spellings_describe_alike(keras: Any, layers: Any) -> None:
    want = _described(keras, UNET.function("upsampling_block"), (4, 4, 8), (8, 8, 6), n_filters=5)

    def rewritten(expansive_input: Any, contractive_input: Any, n_filters: int = 32) -> Any:
        up = layers.Conv2DTranspose(filters=n_filters, kernel_size=(3, 3), strides=(2, 2), padding="same",
                                    dilation_rate=1)(expansive_input)
        x = layers.concatenate([up, contractive_input], axis=-1)
        for _ in range(2):
            x = layers.Conv2D(n_filters, (3, 3), strides=1, padding="same", activation=keras.activations.relu,
                              kernel_initializer=keras.initializers.HeNormal())(x)
        return x

    assert structure.differences(_described(keras, rewritten, (4, 4, 8), (8, 8, 6), n_filters=5), want) == []


@pytest.mark.parametrize("mistake, expected_text", [
    ({"second": {"dilation_rate": 2}}, "dilation_rate is (2, 2), expected (1, 1) (Keras's default)"),
    ({"second": {"kernel_initializer": "glorot_uniform"}}, "kernel_initializer is"),
    ({"swap": True}, "it returns layer 3 (Conv2D), layer 4 (MaxPooling2D), expected layer 4 (MaxPooling2D), layer 3 (Conv2D)"),
    ({"activation": None}, "activation is left at Keras's default (none), expected 'relu'"),
])
def test_each_stated_setting_is_explained(keras: Any, layers: Any, legacy: bool, mistake: dict[str, Any],
                                          expected_text: str) -> None:
    want = _described(keras, UNET.function("conv_block"), (16, 16, 3), n_filters=4)
    got = _described(keras, _conv(layers, **mistake), (16, 16, 3), n_filters=4)
    problems = [strip_ansi(p) for p in structure.differences(got, want)]
    assert any(expected_text in p for p in problems), problems


def test_hard_coded_training_flag_shows(keras: Any, layers: Any, legacy: bool) -> None:
    if legacy:
        pytest.skip("Keras 2 keeps call arguments elsewhere")

    def forced(inputs: Any = None, n_filters: int = 32, dropout_prob: float = 0, max_pooling: bool = True) -> Any:
        x = inputs
        for _ in range(2):
            x = layers.Conv2D(n_filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
            x = layers.LeakyReLU(negative_slope=0.1)(layers.BatchNormalization()(x, training=True))
        return (layers.MaxPooling2D(2)(x) if max_pooling else x), x

    want = _described(keras, VARIANTS.function("bn_conv_block"), (8, 8, 3), n_filters=4)
    problems = [strip_ansi(p) for p in structure.differences(_described(keras, forced, (8, 8, 3), n_filters=4), want)]
    assert problems == ["layer 3 (BatchNormalization): called with training=True, expected no training argument "
                        "(let Keras pass it)",
                        "layer 6 (BatchNormalization): called with training=True, expected no training argument "
                        "(let Keras pass it)"]


def test_free_settings_are_ignored() -> None:
    spec = UNET.specs["unet_model"]
    case = {"kwargs": {"input_size": [16, 16, 1], "n_filters": 2, "n_classes": 3}}
    want = structure.describe(exercises.build(spec, UNET.function("unet_model"), case))
    got = {"layers": [list(row) for row in want["layers"]], "outputs": list(want["outputs"])}
    head = got["layers"][-1]
    head[2] = {**head[2], "kernel_initializer": "HeNormal", "bias_initializer": "Ones"}  # never stated
    assert structure.differences(got, want, spec.free) == []
    unfreed = structure.differences(got, want)  # they count where the exercise does not free them
    assert len(unfreed) == 1 and "bias_initializer" in unfreed[0] and "kernel_initializer" in unfreed[0], unfreed
    head[2]["padding"] = "valid"
    assert len(structure.differences(got, want, spec.free)) == 1


def test_description_validation_names_the_problem() -> None:
    with pytest.raises(TypeError, match="should be a dict with 'layers' and 'outputs'"):
        structure.differences([["Conv2D"]], {"layers": [], "outputs": []})


def test_settings_that_cannot_change_the_computation_are_not_compared(keras: Any, layers: Any) -> None:
    """A 1x1 kernel reads one pixel whatever its dilation (the mutation benchmark's m0151); a 3x3 kernel does not."""
    def model(kernel: int, **kwargs: Any) -> Any:
        inputs = keras.Input((8, 8, 3))
        return keras.Model(inputs, layers.Conv2D(4, kernel, padding="same", **kwargs)(inputs))

    assert structure.describe(model(1, dilation_rate=2)) == structure.describe(model(1))
    found = structure.differences(structure.describe(model(3, dilation_rate=2)), structure.describe(model(3)), (), ())
    assert len(found) == 1 and "dilation_rate" in found[0]


def _chain(n: int, changed: int | None = None, dropped: int | None = None) -> dict[str, Any]:
    rows: list[list[Any]] = [["InputLayer", (None, 8, 8, 3), {}, []]]
    for i in range(n):
        if i == dropped:
            continue
        settings = {"filters": 5 if i == changed else 4, "kernel_size": (3, 3)} if i % 3 else {}
        rows.append(["Conv2D" if i % 3 else "BatchNormalization", (None, 8, 8, 4), settings, [len(rows)]])
    return {"layers": rows, "outputs": [len(rows)]}


def test_a_model_of_hundreds_of_layers_is_one_sentence_per_mistake() -> None:
    want = _chain(499)
    assert structure.differences(_chain(499), want) == []
    changed = [strip_ansi(p) for p in structure.differences(_chain(499, changed=250), want)]
    assert changed == ["layer 252 (Conv2D): filters is 5, expected 4"], changed
    dropped = [strip_ansi(p) for p in structure.differences(_chain(499, dropped=250), want)]
    assert len(dropped) == 1 and dropped[0].startswith("A Conv2D layer is missing after layer"), dropped


ATTENTION = References(exercise_book.load_bundles(REPO, "unet_attention")["Attention_Gate"])


def _residual(layers: Any, merge: Callable[[Any, Any], list[Any]], cls: str = "Add") -> Callable[..., Any]:
    def block(inputs: Any, n_filters: int = 32) -> Any:
        x = layers.Conv2D(n_filters, 3, padding="same", kernel_initializer="he_normal")(inputs)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(n_filters, 3, padding="same", kernel_initializer="he_normal")(x)
        main = layers.BatchNormalization()(x)
        shortcut = layers.Conv2D(n_filters, 1, padding="same")(inputs)
        return layers.Activation("relu")(getattr(layers, cls)()(merge(main, shortcut)))
    return block


@pytest.mark.parametrize("cls", sorted(structure.COMMUTATIVE))
def test_a_commutative_merge_takes_its_inputs_in_either_order(keras: Any, layers: Any, cls: str) -> None:
    """Add([shortcut, main]) is Add([main, shortcut]): the same function, the same weights, no difference;
    and a shortcut built before the main path (another numbering) changes nothing either."""
    want = _described(keras, _residual(layers, lambda main, shortcut: [main, shortcut], cls), (8, 8, 3), n_filters=4)
    swapped = _described(keras, _residual(layers, lambda main, shortcut: [shortcut, main], cls), (8, 8, 3), n_filters=4)
    assert structure.differences(swapped, want) == []
    reference = _described(keras, ATTENTION.function("residual_block"), (8, 8, 3), n_filters=4)
    if cls == "Add":
        assert structure.differences(swapped, reference) == []


@pytest.mark.parametrize("cls", ["Concatenate", "Subtract"])
def test_an_order_sensitive_merge_keeps_its_order(keras: Any, layers: Any, cls: str) -> None:
    want = _described(keras, _residual(layers, lambda main, shortcut: [main, shortcut], cls), (8, 8, 3), n_filters=4)
    swapped = _described(keras, _residual(layers, lambda main, shortcut: [shortcut, main], cls), (8, 8, 3), n_filters=4)
    (line,) = [strip_ansi(p) for p in structure.differences(swapped, want)]
    assert f"({cls}) takes" in line and line.endswith("the same tensors, in another order"), line


def test_the_attention_gate_with_its_merges_swapped_matches(keras: Any, layers: Any) -> None:
    """Add([phi, theta]) and Multiply([coefficients, skip]), as students write them: no difference."""
    def gate(gating: Any, skip: Any, inter_channels: int = 16) -> Any:
        phi = layers.Conv2D(inter_channels, 1)(gating)
        theta = layers.Conv2D(inter_channels, 1, strides=2)(skip)
        joined = layers.Activation("relu")(layers.Add()([phi, theta]))
        coefficients = layers.UpSampling2D(2)(layers.Conv2D(1, 1, activation="sigmoid")(joined))
        return layers.Multiply()([coefficients, skip])
    want = _described(keras, ATTENTION.function("attention_gate"), (4, 4, 6), (8, 8, 5), inter_channels=3)
    assert structure.differences(_described(keras, gate, (4, 4, 6), (8, 8, 5), inter_channels=3), want) == []
