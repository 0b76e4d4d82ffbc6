"""summary(): the established format, element for element, under Keras 3 and Keras 2."""
from __future__ import annotations

import os

import pytest

from test_utils import summary

EXPECTED_32 = [
    ['InputLayer', [(None, 96, 128, 3)], 0],
    ['Conv2D', (None, 96, 128, 32), 896, 'same', 'relu', 'HeNormal'],
    ['Conv2D', (None, 96, 128, 32), 9248, 'same', 'relu', 'HeNormal'],
    ['MaxPooling2D', (None, 48, 64, 32), 0, (2, 2)],
]
EXPECTED_1024_DROPOUT = [
    ['InputLayer', [(None, 96, 128, 3)], 0],
    ['Conv2D', (None, 96, 128, 1024), 28672, 'same', 'relu', 'HeNormal'],
    ['Conv2D', (None, 96, 128, 1024), 9438208, 'same', 'relu', 'HeNormal'],
    ['Dropout', (None, 96, 128, 1024), 0, 0.1],
    ['MaxPooling2D', (None, 48, 64, 1024), 0, (2, 2)],
]


def _assert_identical(got: list, want: list) -> None:
    """Equal element for element, with the same container types (list vs tuple) and value types."""
    assert got == want
    for got_row, want_row in zip(got, want):
        assert type(got_row) is list
        for got_item, want_item in zip(got_row, want_row):
            assert type(got_item) is type(want_item), (got_row, want_row)
            if isinstance(want_item, list):
                assert all(type(g) is type(w) for g, w in zip(got_item, want_item))


def test_runs_under_the_keras_the_environment_selects(keras, legacy) -> None:
    assert os.environ.get("TF_USE_LEGACY_KERAS", "") in ("", "0", "1")
    # The layer classes say which Keras this is; tf.keras's own __name__ depends on TensorFlow's lazy loader
    # and on what imported it first, so it is not a reliable witness.
    package = keras.layers.Layer.__module__.split(".")[0]
    assert package == ("tf_keras" if legacy else "keras")


def test_reference_conv_block_matches_expected_list_verbatim(keras, conv_block) -> None:
    inputs = keras.Input((96, 128, 3))
    model = keras.Model(inputs=inputs, outputs=conv_block(inputs, 32))
    _assert_identical(summary(model), EXPECTED_32)


def test_reference_conv_block_with_dropout_matches_expected_list_verbatim(keras, conv_block) -> None:
    inputs = keras.Input((96, 128, 3))
    model = keras.Model(inputs=inputs, outputs=conv_block(inputs, 1024, dropout_prob=0.1))
    _assert_identical(summary(model), EXPECTED_1024_DROPOUT)


def test_equivalent_spellings_give_the_same_summary(keras, layers, block_model) -> None:
    def keyword_block(inputs, n_filters=4, dropout_prob=0, max_pooling=True):
        conv = layers.Conv2D(filters=n_filters, kernel_size=(3, 3), padding="same", activation="relu",
                             kernel_initializer=keras.initializers.HeNormal())(inputs)
        conv = layers.Conv2D(filters=n_filters, kernel_size=(3, 3), padding="same", activation="relu",
                             kernel_initializer="he_normal")(conv)
        return layers.MaxPooling2D(2, strides=2)(conv), conv

    assert summary(block_model((8, 8, 3), 4, block=keyword_block)) == summary(block_model((8, 8, 3), 4))


def test_input_layer_shape_is_a_list_holding_one_tuple(keras) -> None:
    inputs = keras.Input((5, 6, 2))
    model = keras.Model(inputs, keras.layers.Flatten()(inputs))
    assert summary(model) == [['InputLayer', [(None, 5, 6, 2)], 0], ['Flatten', (None, 60), 0]]


def test_conv2d_details_are_padding_activation_initializer(keras, layers) -> None:
    inputs = keras.Input((8, 8, 3))
    outputs = layers.Conv2D(2, 3)(inputs)  # the defaults: valid, linear, GlorotUniform
    assert summary(keras.Model(inputs, outputs))[1] == ['Conv2D', (None, 6, 6, 2), 56, 'valid', 'linear',
                                                        'GlorotUniform']


def test_pooling_and_dropout_details(keras, layers) -> None:
    inputs = keras.Input((8, 8, 3))
    x = layers.MaxPooling2D(pool_size=3, strides=2)(inputs)
    x = layers.Dropout(rate=0.25)(x)
    rows = summary(keras.Model(inputs, x))
    assert rows[1] == ['MaxPooling2D', (None, 3, 3, 3), 0, (3, 3)]
    assert rows[2] == ['Dropout', (None, 3, 3, 3), 0, 0.25]


def test_conv2d_transpose_and_concatenate_have_no_details(upsampling_model) -> None:
    rows = {row[0]: row for row in summary(upsampling_model())}
    assert rows['Conv2DTranspose'] == ['Conv2DTranspose', (None, 8, 8, 4), 3 * 3 * 8 * 4 + 4]
    assert rows['Concatenate'] == ['Concatenate', (None, 8, 8, 8), 0]


def test_sequential_model_lists_its_layers(keras, layers) -> None:
    model = keras.Sequential([keras.Input((4, 4, 1)), layers.Conv2D(2, 3, padding="same"), layers.Flatten()])
    assert summary(model) == [['Conv2D', (None, 4, 4, 2), 20, 'same', 'linear', 'GlorotUniform'],
                              ['Flatten', (None, 32), 0]]


def test_does_not_need_layer_output_shape(keras, layers, monkeypatch) -> None:
    """The old helper read ``layer.output_shape``, which Keras 3 layers do not have."""
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, layers.Conv2D(1, 1)(inputs))
    for layer in model.layers:
        monkeypatch.setattr(type(layer), "output_shape", property(lambda self: pytest.fail("read output_shape")),
                            raising=False)
    assert summary(model)[1][:3] == ['Conv2D', (None, 4, 4, 1), 2]


def test_shared_layer_is_described_by_its_first_call(keras, layers) -> None:
    first, second = keras.Input((4, 4, 2)), keras.Input((4, 4, 2))
    shared = layers.Conv2D(3, 1)
    model = keras.Model([first, second], layers.Add()([shared(first), shared(second)]))
    assert ['Conv2D', (None, 4, 4, 3), 9, 'valid', 'linear', 'GlorotUniform'] in summary(model)
