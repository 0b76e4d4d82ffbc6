"""The graded exercises as data: which cases each check runs, what is free, how evidence is computed.

Shared by the check cells (inside the student's kernel) and by the grader's judge (in its own
process, :mod:`autograder.run.judge`), so both build, describe and measure a case the same way.

A *case* is plain JSON:

* blocks: ``{"inputs": [[h, w, c], ...], "kwargs": {...}, "numbers": bool}``;
* ``unet_model``: ``{"kwargs": {"input_size": [h, w, c], "n_filters": f, "n_classes": k}, "numbers": bool}``
  — built with the stand-in blocks of :func:`unet_stand_ins`, so it is judged only on how it connects
  its blocks (a mistake in Exercise 1 or 2 does not count again);
* the metric: ``{"classes": k, "batches": [[true ids, scores], ...]}`` (literal), or
  ``{"classes": k, "shape": [b, h, w], "batches": n, "seed": s, "flat_labels": bool}`` (generated).

``challenge_case(exercise, part, seed)`` is the case whose sizes the grader picks at grading time
(the grader passes the seed to the kernel in ``UNET_COURSE_CHALLENGE``): copying the expected data of a
public cell cannot answer it. ``numbers`` cases also record outputs computed from weights and inputs
derived from the seed (:func:`measure`), which the judge recomputes with the reference.
"""
from __future__ import annotations

import inspect
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from . import structure

__all__ = ["Exercise", "EXERCISES", "challenge_case", "build", "measure", "signature_of",
           "unet_stand_ins", "metric_batches", "metric_evidence", "metric_saves"]

#: Settings no notebook states, so they never cost points: initializers other than the stated ones.
_UNSTATED = (("*", "bias_initializer"), ("*", "gamma_initializer"), ("*", "beta_initializer"),
             ("*", "moving_mean_initializer"), ("*", "moving_variance_initializer"))
PROJECTIONS = 16


@dataclass(frozen=True)
class Exercise:
    """One graded function: its cases, its free settings and how its evidence is judged."""

    name: str                      # grade_id of the answer cell
    function: str                  # name of the graded function or class in the notebook
    kind: str                      # "block", "unet" or "metric"
    signature: tuple[tuple[str, str], ...]
    public: tuple[dict[str, Any], ...]
    hidden: tuple[dict[str, Any], ...]
    free: tuple[tuple[str, str], ...] = _UNSTATED
    output_names: tuple[str, ...] = ()
    training_mode: bool = False    # numbers also in training mode (batch normalisation)

    def cases(self, part: str) -> list[dict[str, Any]]:
        """The fixed cases of the public or the hidden check."""
        return [dict(case) for case in (self.public if part == "public" else self.hidden)]


def _block(inputs: list[list[int]], numbers: bool = False, **kwargs: Any) -> dict[str, Any]:
    return {"inputs": inputs, "kwargs": kwargs, "numbers": numbers}


_CONV_SIGNATURE = (("inputs", "None"), ("n_filters", "32"), ("dropout_prob", "0"), ("max_pooling", "True"))
_UP_SIGNATURE = (("expansive_input", "<required>"), ("contractive_input", "<required>"), ("n_filters", "32"))
_PAIR = ("next_layer", "skip_connection")

_PUBLIC_METRIC = {"classes": 5, "batches": [
    # batch 1: labels with a trailing axis; class 3 is predicted once but never true, class 4 occurs nowhere
    [[[[0], [1]], [[1], [2]]], [[[5., 1., 0., 0., 0.], [0., 3., 1., 0., 0.]], [[0., 1., 4., 0., 0.], [0., 0., 1., 2., 0.]]]],
    # batch 2: labels without it
    [[[2, 2], [0, 1]], [[[0., 0., 3., 0., 0.], [1., 0., 2., 0., 0.]], [[2., 0., 0., 0., 0.], [0., 0., 0., 1., 0.]]]],
]}

EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("conv_block", "conv_block", "block", _CONV_SIGNATURE,
             public=(_block([[96, 128, 3]], n_filters=32),
                     _block([[96, 128, 3]], n_filters=1024, dropout_prob=0.1, max_pooling=True)),
             hidden=(_block([[64, 80, 5]], n_filters=8),
                     _block([[32, 32, 3]], n_filters=4, dropout_prob=0.25, max_pooling=False),
                     _block([[16, 16, 3]], n_filters=4, max_pooling=False),
                     _block([[48, 64, 16]], n_filters=12, dropout_prob=0.5)),
             output_names=_PAIR),
    Exercise("upsampling_block", "upsampling_block", "block", _UP_SIGNATURE,
             public=(_block([[12, 16, 256], [24, 32, 128]], n_filters=32),),
             hidden=(_block([[6, 8, 64], [12, 16, 32]], n_filters=16),
                     _block([[10, 10, 8], [20, 20, 4]], n_filters=3)),
             free=_UNSTATED + (("Conv2DTranspose", "kernel_initializer"),)),
    Exercise("unet_model", "unet_model", "unet",
             (("input_size", "(96, 128, 3)"), ("n_filters", "32"), ("n_classes", "23")),
             public=({"kwargs": {"input_size": [96, 128, 3], "n_filters": 32, "n_classes": 23}},),
             hidden=({"kwargs": {"input_size": [64, 64, 3], "n_filters": 4, "n_classes": 5}},
                     {"kwargs": {"input_size": [32, 48, 1], "n_filters": 2, "n_classes": 13}}),
             # the notebook never states the 1x1 output convolution's initializer
             free=_UNSTATED + (("output", "kernel_initializer"),)),
    Exercise("mean_iou", "SegmentationMeanIoU", "metric", (("num_classes", "<required>"), ("name", "'mean_iou'")),
             public=(_PUBLIC_METRIC,),
             hidden=({"classes": 13, "shape": [2, 16, 16], "batches": 3, "seed": 2024, "flat_labels": False},
                     {"classes": 6, "shape": [3, 8, 8], "batches": 2, "seed": 7, "flat_labels": True},
                     {"classes": 4, "shape": [1, 5, 7], "batches": 4, "seed": 99, "flat_labels": False})),
    Exercise("upsample_conv_block", "upsample_conv_block", "block", _UP_SIGNATURE,
             public=(_block([[12, 16, 256], [24, 32, 128]], n_filters=32),),
             hidden=(_block([[4, 4, 8], [8, 8, 6]], n_filters=5),
                     _block([[6, 10, 3], [12, 20, 2]], n_filters=7))),
    Exercise("bn_conv_block", "bn_conv_block", "block", _CONV_SIGNATURE,
             # the first public case has no dropout: the grader's variant of it also runs in training mode
             public=(_block([[8, 8, 3]], n_filters=4),
                     _block([[96, 128, 3]], n_filters=32, dropout_prob=0.2)),
             hidden=(_block([[16, 16, 5]], n_filters=6, max_pooling=False),
                     _block([[32, 16, 2]], n_filters=3, dropout_prob=0.4),
                     _block([[8, 8, 3]], n_filters=4, max_pooling=False)),
             output_names=_PAIR, training_mode=True),
)}


# ------------------------------------------------------------------------------------ grading-time cases

def challenge_case(exercise: str, part: str, seed: int) -> dict[str, Any]:
    """The case whose sizes the grader picks from ``seed`` at grading time.

    For the public check only the sizes change (the settings are those of the first public case),
    so a public check that passes on the student's machine passes at grading time too; the
    hidden check's challenge changes settings as well.
    """
    import numpy as np

    spec = EXERCISES[exercise]
    rng = np.random.default_rng([int(seed), zlib.crc32(exercise.encode()), 0 if part == "public" else 1])
    first = spec.public[0]
    if spec.kind == "metric":
        classes = int(rng.integers(3, 9)) if part == "hidden" else int(first["classes"])
        shape = [int(rng.integers(1, 4)), int(rng.integers(3, 9)), int(rng.integers(3, 9))]
        return {"classes": classes, "shape": shape, "batches": int(rng.integers(2, 5)),
                "seed": int(rng.integers(2**31)), "flat_labels": bool(rng.integers(2)) and part == "hidden"}
    if spec.kind == "unet":
        side = [16 * int(rng.integers(1, 3)), 16 * int(rng.integers(1, 3)), int(rng.integers(1, 4))]
        kwargs = dict(first["kwargs"], input_size=side)
        if part == "hidden":
            kwargs.update(n_filters=int(rng.integers(1, 5)), n_classes=int(rng.integers(2, 8)))
        return {"kwargs": kwargs, "numbers": True}
    height, width = 2 * int(rng.integers(2, 6)), 2 * int(rng.integers(2, 6))
    kwargs = dict(first["kwargs"])
    if part == "hidden":
        kwargs["n_filters"] = int(rng.integers(1, 7))
        if "max_pooling" in dict(spec.signature):
            kwargs["max_pooling"] = bool(rng.integers(2))
            # training-mode numbers need a deterministic forward pass: no dropout there
            kwargs["dropout_prob"] = 0 if spec.training_mode else round(float(rng.uniform(0.1, 0.5)), 2)
    if len(first["inputs"]) == 1:
        inputs = [[height, width, int(rng.integers(1, 5))]]
    else:
        inputs = [[height // 2, width // 2, int(rng.integers(1, 6))], [height, width, int(rng.integers(1, 6))]]
    if kwargs.get("n_filters", 0) > 64:
        kwargs["n_filters"] = int(rng.integers(1, 7))
    return {"inputs": inputs, "kwargs": kwargs, "numbers": True}


# ------------------------------------------------------------------------------------ building a case

def signature_of(func: Any) -> list[list[str]]:
    """``[[name, repr(default)], ...]`` of a function or of a class's ``__init__`` (after self)."""
    target = func.__init__ if inspect.isclass(func) else func
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(func):
        params = params[1:]
    return [[p.name, "<required>" if p.default is inspect.Parameter.empty else repr(p.default)]
            for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def unet_stand_ins() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Simple, known blocks that ``unet_model`` is built with when it is checked (not the answers).

    Each block's settings show in the model: the encoder stand-in is a 1x1 convolution with
    ``n_filters``, then ``Dropout(dropout_prob)`` when it is positive, then pooling when asked;
    the decoder stand-in upsamples, concatenates (upsampled first, skip second) and mixes with a
    1x1 convolution of ``n_filters``.
    """
    import tensorflow as tf

    layers = tf.keras.layers

    def conv_block(inputs: Any = None, n_filters: int = 32, dropout_prob: float = 0,
                   max_pooling: bool = True) -> tuple[Any, Any]:
        if isinstance(inputs, (tuple, list)):
            raise AssertionError("conv_block got a tuple of tensors as inputs: conv_block returns "
                                 "(next_layer, skip_connection), pass the element you need")
        features = layers.Conv2D(n_filters, 1)(inputs)
        if dropout_prob > 0:
            features = layers.Dropout(dropout_prob)(features)
        return (layers.MaxPooling2D(2)(features) if max_pooling else features), features

    def upsampling_block(expansive_input: Any, contractive_input: Any, n_filters: int = 32) -> Any:
        for name, value in (("expansive_input", expansive_input), ("contractive_input", contractive_input)):
            if isinstance(value, (tuple, list)):
                raise AssertionError(f"upsampling_block got a tuple of tensors as {name}: pass one tensor")
        merged = layers.Concatenate(axis=3)([layers.UpSampling2D(2)(expansive_input), contractive_input])
        return layers.Conv2D(n_filters, 1)(merged)

    return conv_block, upsampling_block


def build(exercise: str, func: Any, case: dict[str, Any]) -> Any:
    """The Keras model of ``func`` for one case (blocks: from fresh Inputs to what the block returns)."""
    import tensorflow as tf

    spec = EXERCISES[exercise]
    if spec.kind == "unet":
        conv, up = unet_stand_ins()
        kwargs = dict(case["kwargs"], input_size=tuple(case["kwargs"]["input_size"]))
        namespace = getattr(func, "__globals__", None)
        if namespace is None:
            raise TypeError(f"{spec.function} should be a Python function, got {type(func).__name__}")
        saved = {name: namespace.get(name) for name in ("conv_block", "upsampling_block")}
        namespace.update(conv_block=conv, upsampling_block=up)
        try:
            model = func(**kwargs)
        finally:
            namespace.update(saved)
        structure.require_model(model, f"{spec.function}()")
        return model
    inputs = [tf.keras.Input(tuple(shape)) for shape in case["inputs"]]
    returned = func(*inputs, **case["kwargs"])
    outputs = list(returned) if isinstance(returned, (tuple, list)) else [returned]
    for position, item in enumerate(outputs):
        if not structure.is_tensor(item):
            what = f"item {position + 1} of what it returns" if len(outputs) > 1 else "what it returns"
            raise AssertionError(f"{spec.function}: {what} is {structure.what_is(item)}, expected a Keras tensor")
    if spec.output_names and len(outputs) != len(spec.output_names):
        raise AssertionError(f"{spec.function} should return {len(spec.output_names)} tensors "
                             f"({', '.join(spec.output_names)}), it returned {len(outputs)}")
    return tf.keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)


def measure(model: Any, seed: int, training: bool) -> list[dict[str, Any]]:
    """Outputs of ``model`` with weights and inputs derived from ``seed``, as compact projections.

    Every weight array gets values from ``numpy.random.default_rng([seed, i])`` (variances stay
    positive); each input is a batch of 3 uniform images. Each output is reduced to its shape,
    its norm and ``PROJECTIONS`` random projections, so evidence stays small.
    """
    import numpy as np

    values = []
    for index, weight in enumerate(model.weights):
        shape = tuple(int(d) for d in weight.shape)
        rng = np.random.default_rng([int(seed), index])
        name = str(getattr(weight, "path", None) or weight.name)
        if "variance" in name:
            values.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
        elif len(shape) >= 2:
            values.append(rng.normal(0, 1 / np.sqrt(max(1, int(np.prod(shape[:-1])))), shape).astype("float32"))
        else:
            values.append(rng.normal(0, 0.2, shape).astype("float32"))
    model.set_weights(values)
    rng = np.random.default_rng([int(seed), 10**6])
    inputs = [rng.uniform(0, 1, (3, *[int(d) for d in tensor.shape[1:]])).astype("float32") for tensor in model.inputs]
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=training)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    measured = []
    for position, output in enumerate(outputs):
        flat = np.asarray(output, dtype="float64").reshape(-1)
        directions = np.random.default_rng([int(seed), 10**6 + 1 + position]).normal(size=(PROJECTIONS, flat.size))
        measured.append({"shape": [int(d) for d in np.shape(output)], "norm": float(np.linalg.norm(flat)),
                         "projections": [float(v) for v in directions @ flat / np.sqrt(max(1, flat.size))]})
    return measured


# ------------------------------------------------------------------------------------------ the metric

def metric_batches(case: dict[str, Any]) -> list[tuple[Any, Any]]:
    """The (true ids, scores) batches of a metric case, as numpy arrays."""
    import numpy as np

    if "batches" in case and isinstance(case["batches"], list):
        return [(np.asarray(t), np.asarray(s, dtype="float32")) for t, s in case["batches"]]
    rng = np.random.default_rng(int(case["seed"]))
    classes, shape = int(case["classes"]), [int(d) for d in case["shape"]]
    batches = []
    for _ in range(int(case["batches"])):
        # the last class is never true but sometimes predicted; the one before it is neither
        true = rng.integers(0, max(1, classes - 2), size=shape)
        scores = rng.normal(size=(*shape, classes)).astype("float32")
        scores[..., classes - 2] = -10.0
        if not case.get("flat_labels"):
            true = true[..., None]
        batches.append((true, scores))
    return batches


def metric_evidence(metric_class: Any, case: dict[str, Any]) -> dict[str, Any]:
    """What the metric does on one case: values while streaming, after a reset, its name and config."""
    import tensorflow as tf

    classes = int(case["classes"])
    batches = metric_batches(case)
    metric = metric_class(num_classes=classes)
    values = []
    for true, scores in batches:
        metric.update_state(tf.constant(true), tf.constant(scores))
        values.append(float(metric.result()))
    metric.reset_state()
    metric.update_state(tf.constant(batches[0][0]), tf.constant(batches[0][1]))
    after_reset = float(metric.result())
    config = metric.get_config()
    clone = metric_class.from_config(config)
    return {"values": values, "after_reset": after_reset, "name": str(metric.name),
            "clone": [str(clone.name), int(getattr(clone, "num_classes", -1))]}


def metric_saves(metric_class: Any) -> str:
    """``"ok"`` when a model compiled with the metric saves and loads back without ``custom_objects``."""
    import os
    import tempfile

    import tensorflow as tf

    try:
        inputs = tf.keras.Input((4, 4, 3))
        model = tf.keras.Model(inputs, tf.keras.layers.Conv2D(3, 1)(inputs))
        model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[metric_class(num_classes=3)])
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "tiny.keras")
            model.save(path)
            tf.keras.models.load_model(path)
    except Exception as error:
        first = (str(error).strip().splitlines() or [""])[0]
        return f"{type(error).__name__}: {first}"[:300]
    return "ok"
