"""Fixtures for the test_utils tests: reference blocks built with ``tf.keras``.

The tests in this folder are Keras-agnostic: ``tf.keras`` is Keras 3 by default and Keras 2
(tf-keras) when ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported; ``make test`` runs this folder a
second time that way (``make test-keras2``). TensorFlow is imported when a test first needs it, not at collection.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # --import-mode=importlib does not put the root on sys.path
    sys.path.insert(0, str(REPO_ROOT))

LEGACY = os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def legacy() -> bool:
    """Whether this run uses Keras 2 (tf-keras)."""
    return LEGACY


@pytest.fixture(scope="session")
def keras() -> Any:
    """``tf.keras``: Keras 3, or Keras 2 under ``TF_USE_LEGACY_KERAS=1``."""
    import tensorflow as tf

    return tf.keras


@pytest.fixture(scope="session")
def layers(keras: Any) -> Any:
    """``tf.keras.layers``."""
    return keras.layers


@pytest.fixture(scope="session")
def conv_block(layers: Any) -> Callable[..., tuple[Any, Any]]:
    """The reference ``conv_block(inputs, n_filters, dropout_prob, max_pooling)``."""
    def block(inputs: Any = None, n_filters: int = 32, dropout_prob: float = 0,
              max_pooling: bool = True) -> tuple[Any, Any]:
        conv = layers.Conv2D(n_filters, 3, activation="relu", padding="same",
                             kernel_initializer="he_normal")(inputs)
        conv = layers.Conv2D(n_filters, 3, activation="relu", padding="same",
                             kernel_initializer="he_normal")(conv)
        if dropout_prob > 0:
            conv = layers.Dropout(dropout_prob)(conv)
        next_layer = layers.MaxPooling2D(pool_size=(2, 2))(conv) if max_pooling else conv
        return next_layer, conv
    return block


@pytest.fixture(scope="session")
def block_model(keras: Any, conv_block: Callable[..., Any]) -> Callable[..., Any]:
    """``block_model(shape, *args, block=conv_block, **kwargs)``: a model around one block call."""
    def build(shape: tuple[int, ...] = (8, 8, 3), *args: Any, block: Callable[..., Any] | None = None,
              **kwargs: Any) -> Any:
        inputs = keras.Input(shape)
        return keras.Model(inputs=inputs, outputs=(block or conv_block)(inputs, *args, **kwargs))
    return build


@pytest.fixture(scope="session")
def upsampling_model(keras: Any, layers: Any) -> Callable[..., Any]:
    """A small upsampling block: Conv2DTranspose, Concatenate, two Conv2D.

    ``order="up_first"`` concatenates ``[up, skip]`` (the correct order), ``"skip_first"`` the reverse;
    ``style="helper"`` uses ``concatenate(...)``, ``"layer"`` uses ``Concatenate(axis=...)(...)``.
    """
    def build(order: str = "up_first", style: str = "helper", axis: int = 3, n_filters: int = 4,
              up_activation: str | None = None, up_padding: str = "same", up_kernel: Any = 3) -> Any:
        expansive = keras.Input((4, 4, 8), name="expansive_input")
        contractive = keras.Input((8, 8, 4), name="contractive_input")
        up = layers.Conv2DTranspose(n_filters, up_kernel, strides=2, padding=up_padding,
                                    activation=up_activation)(expansive)
        pair = [up, contractive] if order == "up_first" else [contractive, up]
        merged = layers.concatenate(pair, axis=axis) if style == "helper" else layers.Concatenate(axis=axis)(pair)
        conv = layers.Conv2D(n_filters, 3, activation="relu", padding="same",
                             kernel_initializer="he_normal")(merged)
        conv = layers.Conv2D(n_filters, 3, activation="relu", padding="same",
                             kernel_initializer="he_normal")(conv)
        return keras.Model(inputs=[expansive, contractive], outputs=conv)
    return build
