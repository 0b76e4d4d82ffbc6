"""Reference answers of the graded exercises, run by the judge (and by plain nbgrader where importable).

These are the solutions: they live with the grader, not in any notebook cell, and the sandboxed
kernel cannot import them. :func:`expected` turns a case into what a correct answer's evidence holds.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from test_utils import exercises, structure

__all__ = ["REFERENCES", "expected", "reference_mean_iou"]


def _layers() -> Any:
    import tensorflow as tf

    return tf.keras.layers


def conv_block(inputs=None, n_filters=32, dropout_prob=0, max_pooling=True):  # noqa: ANN001, ANN201
    """Two 3x3 ReLU convolutions (He initialised), optional dropout, optional 2x2 pooling."""
    layers = _layers()
    x = inputs
    for _ in range(2):
        x = layers.Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
    if dropout_prob > 0:
        x = layers.Dropout(dropout_prob)(x)
    return (layers.MaxPooling2D((2, 2))(x) if max_pooling else x), x


def upsampling_block(expansive_input, contractive_input, n_filters=32):  # noqa: ANN001, ANN201
    """Transposed 3x3 convolution with stride 2, concatenation (upsampled first), two 3x3 convolutions."""
    layers = _layers()
    up = layers.Conv2DTranspose(n_filters, 3, strides=2, padding="same")(expansive_input)
    x = layers.Concatenate(axis=3)([up, contractive_input])
    for _ in range(2):
        x = layers.Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
    return x


def unet_model(input_size=(96, 128, 3), n_filters=32, n_classes=23):  # noqa: ANN001, ANN201
    """Four encoder steps, a bottleneck, four decoder steps, a 3x3 convolution and 1x1 logits."""
    import tensorflow as tf

    layers = _layers()
    inputs = layers.Input(input_size)
    skips, x = [], inputs
    for multiple, dropout in [(1, 0), (2, 0), (4, 0), (8, 0.3)]:
        x, skip = conv_block(x, n_filters * multiple, dropout_prob=dropout)
        skips.append(skip)
    x, _ = conv_block(x, n_filters * 16, dropout_prob=0.3, max_pooling=False)
    for multiple, skip in zip([8, 4, 2, 1], reversed(skips)):
        x = upsampling_block(x, skip, n_filters * multiple)
    x = layers.Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
    return tf.keras.Model(inputs, layers.Conv2D(n_classes, 1, padding="same")(x))


def upsample_conv_block(expansive_input, contractive_input, n_filters=32):  # noqa: ANN001, ANN201
    """2x upsampling, a 3x3 ReLU convolution, concatenation (upsampled first), two 3x3 convolutions."""
    layers = _layers()
    x = layers.UpSampling2D(2)(expansive_input)
    x = layers.Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
    x = layers.Concatenate(axis=3)([x, contractive_input])
    for _ in range(2):
        x = layers.Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
    return x


def bn_conv_block(inputs=None, n_filters=32, dropout_prob=0, max_pooling=True):  # noqa: ANN001, ANN201
    """Twice Conv2D (no bias) -> BatchNormalization -> LeakyReLU(0.1); optional dropout and pooling."""
    layers = _layers()
    x = inputs
    for _ in range(2):
        x = layers.Conv2D(n_filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.LeakyReLU(negative_slope=0.1)(layers.BatchNormalization()(x))
    if dropout_prob > 0:
        x = layers.Dropout(dropout_prob)(x)
    return (layers.MaxPooling2D((2, 2))(x) if max_pooling else x), x


def reference_mean_iou(batches: list[tuple[Any, Any]], classes: int) -> float:
    """Mean IoU over the classes present in the truth or the predictions, over all batches (numpy)."""
    true = np.concatenate([np.asarray(t).reshape(-1) for t, _ in batches])
    guess = np.concatenate([np.asarray(s).argmax(-1).reshape(-1) for _, s in batches])
    ious = []
    for c in range(classes):
        union = np.sum((true == c) | (guess == c))
        if union:
            ious.append(np.sum((true == c) & (guess == c)) / union)
    return float(np.mean(ious))


def _metric(case: dict[str, Any]) -> dict[str, Any]:
    classes = int(case["classes"])
    batches = exercises.metric_batches(case)
    return {"values": [reference_mean_iou(batches[: i + 1], classes) for i in range(len(batches))],
            "after_reset": reference_mean_iou(batches[:1], classes), "name": "mean_iou",
            "clone": ["mean_iou", classes]}


REFERENCES: dict[str, Any] = {
    "conv_block": conv_block, "upsampling_block": upsampling_block, "unet_model": unet_model,
    "upsample_conv_block": upsample_conv_block, "bn_conv_block": bn_conv_block,
}


def expected(exercise: str, case: dict[str, Any], seed: int | None) -> Any:
    """What a correct answer's evidence holds for ``case``: the metric's values, or the description
    (with ``{"description": ..., "numbers": ...}`` when ``seed`` is given and the case has numbers)."""
    spec = exercises.EXERCISES[exercise]
    if spec.kind == "metric":
        return _metric(case)
    if seed is not None:  # in the judge's own process: forget the previous case's layers
        import tensorflow as tf

        tf.keras.backend.clear_session()
    model = exercises.build(exercise, REFERENCES[exercise], case)
    description = structure.describe(model)
    if seed is None:
        return description
    out: dict[str, Any] = {"description": description}
    if case.get("numbers"):
        out["numbers"] = {"inference": exercises.measure(model, seed, training=False)}
        if spec.training_mode:
            out["numbers"]["training"] = exercises.measure(model, seed, training=True)
    return out
