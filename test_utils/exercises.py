"""An exercise as data: which cases a check runs, what is free, how a case is built and measured.

The definition of every exercise lives in its instructor's source notebook (the solution cell's
``exercise`` metadata, see the README's "Write your own exercise"). When the assignment is released, a
check cell receives the part it needs as a plain dict (``exercise = {...}`` in the cell), and the grader
reads the same definition from what the release stored for it. This module turns such a dict into an
:class:`ExerciseSpec` and builds, describes and measures a case the same way in the student's kernel and in
the grader's judge (:mod:`autograder.run.judge`).

A *case* is plain JSON:

* ``block``: ``{"inputs": [[h, w, c], ...], "kwargs": {...}}`` — fresh ``Input``s, then ``function(*inputs, **kwargs)``;
* ``model``: ``{"kwargs": {"input_size": [h, w, c], ...}}`` — built with the stand-ins of :func:`stand_ins`
  in place of the other exercises' functions, so it is judged only on how it connects them;
* ``metric``: ``{"classes": k, "batches": [[true ids, scores], ...]}`` (literal), or
  ``{"classes": k, "shape": [b, h, w], "batches": n, "seed": s, "flat_labels": bool}`` (generated).

``challenge_case(spec, part, seed)`` is the case whose sizes the grader picks at grading time (the grader
passes the seed to the kernel in ``UNET_COURSE_CHALLENGE``): copying the expected data of a public cell
cannot answer it. Its cases carry ``"numbers": true``: outputs computed from weights and inputs derived from
the seed (:func:`measure`), which the judge recomputes with the reference.
"""
from __future__ import annotations

import inspect
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from . import structure

__all__ = ["ExerciseSpec", "KINDS", "challenge_case", "build", "measure", "role_keys", "signature_of", "stand_ins",
           "unet_stand_ins", "metric_batches", "metric_evidence", "metric_saves"]

#: Settings no notebook states, so they never cost points: initializers other than the stated ones.
UNSTATED = (("*", "bias_initializer"), ("*", "gamma_initializer"), ("*", "beta_initializer"),
            ("*", "moving_mean_initializer"), ("*", "moving_variance_initializer"))
PROJECTIONS = 16
KINDS = ("block", "model", "metric")


@dataclass(frozen=True)
class ExerciseSpec:
    """One graded function: its cases, its free settings and how its evidence is judged."""

    name: str                      # grade_id of the answer cell
    function: str                  # name of the graded function or class in the notebook
    kind: str                      # "block", "model" or "metric"
    signature: tuple[tuple[str, str], ...]
    public: tuple[dict[str, Any], ...]
    hidden: tuple[dict[str, Any], ...] = ()
    free: tuple[tuple[str, str], ...] = UNSTATED
    output_names: tuple[str, ...] = ()
    training_mode: bool = False    # numbers also in training mode (batch normalisation)
    challenge: tuple[tuple[str, Any], ...] = ()   # hidden challenge: setting -> range or constant, in draw order
    channels: tuple[int, int] | None = None       # channel range of challenge inputs
    stand_ins: tuple[tuple[str, str], ...] = ()   # model kind: function name -> "encoder" | "decoder"

    def cases(self, part: str) -> list[dict[str, Any]]:
        """The fixed cases of the public or the hidden check."""
        return [dict(case) for case in (self.public if part == "public" else self.hidden)]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ExerciseSpec":
        """The spec a check cell or the grader holds as plain JSON (see :meth:`to_json`)."""
        return cls(name=str(data["name"]), function=str(data.get("function") or data["name"]), kind=str(data["kind"]),
                   signature=tuple((str(n), str(d)) for n, d in data.get("signature", [])),
                   public=tuple(data.get("public", [])), hidden=tuple(data.get("hidden", [])),
                   free=UNSTATED + tuple((str(a), str(b)) for a, b in data.get("free", [])),
                   output_names=tuple(str(n) for n in data.get("outputs", [])),
                   training_mode=bool(data.get("training_mode", False)),
                   challenge=tuple((str(k), v) for k, v in dict(data.get("challenge", {})).items()),
                   channels=tuple(data["channels"]) if data.get("channels") else None,  # type: ignore[arg-type]
                   stand_ins=tuple((str(k), str(v)) for k, v in dict(data.get("stand_ins", {})).items()))

    def to_json(self, part: str = "hidden") -> dict[str, Any]:
        """Plain JSON for a check cell: the public part leaves the hidden cases out."""
        out: dict[str, Any] = {"name": self.name, "function": self.function, "kind": self.kind,
                               "signature": [list(p) for p in self.signature], "public": list(self.public)}
        if part == "hidden":
            out["hidden"] = list(self.hidden)
        extra_free = [list(p) for p in self.free if p not in UNSTATED]
        for key, value in (("free", extra_free), ("outputs", list(self.output_names)),
                           ("training_mode", self.training_mode), ("challenge", dict(self.challenge)),
                           ("channels", list(self.channels) if self.channels else None),
                           ("stand_ins", dict(self.stand_ins))):
            if value:
                out[key] = value
        return out


def spec_of(exercise: "ExerciseSpec | dict[str, Any]") -> ExerciseSpec:
    """An :class:`ExerciseSpec` from itself or from its JSON."""
    return exercise if isinstance(exercise, ExerciseSpec) else ExerciseSpec.from_json(exercise)


# ------------------------------------------------------------------------------------ grading-time cases

def _draw(rng: Any, value: Any) -> Any:
    """One challenge setting: ``[lo, hi)`` ints, ``[lo, hi]`` floats (2 decimals), ``[false, true]``, or a constant."""
    if isinstance(value, list) and len(value) == 2:
        lo, hi = value
        if isinstance(lo, bool) and isinstance(hi, bool):
            return bool(rng.integers(2))
        if isinstance(lo, int) and isinstance(hi, int):
            return int(rng.integers(lo, hi))
        return round(float(rng.uniform(float(lo), float(hi))), 2)
    return value


def _drawn(spec: ExerciseSpec, rng: Any) -> dict[str, Any]:
    """The hidden challenge's settings, drawn in the order of the function's parameters."""
    order = [name for name, _ in spec.signature]
    ranked = sorted(spec.challenge, key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return {name: _draw(rng, value) for name, value in ranked}


def challenge_case(exercise: "ExerciseSpec | dict[str, Any]", part: str, seed: int) -> dict[str, Any]:
    """The case whose sizes the grader picks from ``seed`` at grading time.

    For the public check only the sizes change (the settings are those of the first public case),
    so a public check that passes on the student's machine passes at grading time too; the
    hidden check's challenge also draws the settings its ``challenge`` declares.
    """
    import numpy as np

    spec = spec_of(exercise)
    rng = np.random.default_rng([int(seed), zlib.crc32(spec.name.encode()), 0 if part == "public" else 1])
    first = spec.public[0]
    if spec.kind == "metric":
        classes = int(rng.integers(3, 9)) if part == "hidden" else int(first["classes"])
        shape = [int(rng.integers(1, 4)), int(rng.integers(3, 9)), int(rng.integers(3, 9))]
        return {"classes": classes, "shape": shape, "batches": int(rng.integers(2, 5)),
                "seed": int(rng.integers(2**31)), "flat_labels": bool(rng.integers(2)) and part == "hidden"}
    if spec.kind == "model":
        side = [16 * int(rng.integers(1, 3)), 16 * int(rng.integers(1, 3)), int(rng.integers(1, 4))]
        kwargs = dict(first["kwargs"], input_size=side)
        if part == "hidden":
            kwargs.update(_drawn(spec, rng))
        return {"kwargs": kwargs, "numbers": True}
    height, width = 2 * int(rng.integers(2, 6)), 2 * int(rng.integers(2, 6))
    kwargs = dict(first["kwargs"])
    if part == "hidden":
        kwargs.update(_drawn(spec, rng))
    lo, hi = spec.channels or ((1, 5) if len(first["inputs"]) == 1 else (1, 6))
    if len(first["inputs"]) == 1:
        inputs = [[height, width, int(rng.integers(lo, hi))]]
    else:  # the inputs before the last come from a coarser step: half its height and width
        inputs = [[height // 2, width // 2, int(rng.integers(lo, hi))] for _ in first["inputs"][:-1]]
        inputs.append([height, width, int(rng.integers(lo, hi))])
    for name, value in list(kwargs.items()):  # keep public challenges small: wide public settings are redrawn
        if isinstance(value, int) and not isinstance(value, bool) and value > 64:
            kwargs[name] = int(rng.integers(1, 7))
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


def stand_ins() -> dict[str, Callable[..., Any]]:
    """The stand-in blocks a ``model`` exercise is built with, by role: ``encoder`` and ``decoder``."""
    encoder, decoder = unet_stand_ins()
    return {"encoder": encoder, "decoder": decoder}


def model_kwargs(case: dict[str, Any]) -> dict[str, Any]:
    """A ``model`` case's keyword arguments as the function takes them (``input_size`` a tuple)."""
    kwargs = dict(case.get("kwargs", {}))
    if "input_size" in kwargs:
        kwargs["input_size"] = tuple(kwargs["input_size"])
    return kwargs


def build(exercise: "ExerciseSpec | dict[str, Any]", func: Any, case: dict[str, Any]) -> Any:
    """The Keras model of ``func`` for one case (blocks: from fresh Inputs to what the block returns)."""
    import tensorflow as tf

    spec = spec_of(exercise)
    if spec.kind == "model":
        roles = stand_ins()
        namespace = getattr(func, "__globals__", None)
        if namespace is None:
            raise TypeError(f"{spec.function} should be a Python function, got {type(func).__name__}")
        replaced = {name: roles[role] for name, role in spec.stand_ins}
        saved = {name: namespace.get(name) for name in replaced}
        namespace.update(replaced)
        try:
            model = func(**model_kwargs(case))
        finally:
            namespace.update(saved)
        structure.require_model(model, f"{spec.function}()")
        return model
    inputs = [tf.keras.Input(tuple(shape)) for shape in case["inputs"]]
    config = getattr(tf.keras, "config", None)
    filtering = getattr(config, "is_traceback_filtering_enabled", lambda: False)()
    if filtering:  # Keras would cut its frames from the traceback, and with them the layer whose call failed
        config.disable_traceback_filtering()
    try:
        returned = func(*inputs, **case["kwargs"])
    except Exception as error:  # what was built before the failure often shows its cause
        error.partial_description = partial_description(error, inputs)  # type: ignore[attr-defined]
        error.failed_in = failed_in(error)  # type: ignore[attr-defined]
        raise
    finally:
        if filtering:
            config.enable_traceback_filtering()
    outputs = list(returned) if isinstance(returned, (tuple, list)) else [returned]
    for position, item in enumerate(outputs):
        if not structure.is_tensor(item):
            what = f"item {position + 1} of what it returns" if len(outputs) > 1 else "what it returns"
            raise AssertionError(f"{spec.function}: {what} is {structure.what_is(item)}, expected a Keras tensor")
    if spec.output_names and len(outputs) != len(spec.output_names):
        raise AssertionError(f"{spec.function} should return {len(spec.output_names)} tensors "
                             f"({', '.join(spec.output_names)}), it returned {len(outputs)}")
    return tf.keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)


def _tensors(value: Any, found: list[Any], depth: int = 0) -> None:
    if structure.is_tensor(value):
        found.append(value)
    elif isinstance(value, (list, tuple)) and depth < 2:
        for item in value[:16]:
            _tensors(item, found, depth + 1)


def _frames(error: BaseException) -> Any:
    """The traceback's frames, outermost first, each with whether it is Keras's or TensorFlow's own."""
    from . import _keras

    trace = error.__traceback__
    while trace is not None:
        module = str(trace.tb_frame.f_globals.get("__name__", ""))
        yield trace.tb_frame, module.split(".", 1)[0] in _keras.KERAS_PACKAGES, module
        trace = trace.tb_next


def _layer_method(frame: Any, keras: bool, names: tuple[str, ...]) -> Any:
    """The Keras layer whose ``__init__`` or ``__call__`` (of ``names``) this frame runs, or ``None``."""
    from . import _keras

    layer = frame.f_locals.get("self")
    return layer if keras and frame.f_code.co_name in names and _keras.is_keras_layer(layer) else None


def failed_in(error: BaseException) -> str | None:
    """``"making a Conv2DTranspose layer"`` or ``"calling a Concatenate layer"``: the Keras layer that raised."""
    for frame, keras, _ in _frames(error):
        layer = _layer_method(frame, keras, ("__init__", "__call__"))
        if layer is not None:
            what = "making" if frame.f_code.co_name == "__init__" else "calling"
            name = type(layer).__name__
            return f"{what} {'an' if name[:1] in 'AEIOU' else 'a'} {name} layer"
    return None


def partial_description(error: BaseException, inputs: list[Any]) -> dict[str, Any] | None:
    """The description of what a block had built when it raised ``error``: the layers between its inputs
    and the tensors held in the local variables of the failing code (``None`` when nothing can be described).

    The frames of the traceback that are not Keras's or TensorFlow's (the student's function and its
    helpers) hold the tensors made so far; the model from the inputs to those tensors shows the layers
    and settings that led to the failure.
    """
    import tensorflow as tf

    found: list[Any] = []
    failed: tuple[Any, list[Any]] | None = None
    for frame, keras, module in _frames(error):
        if not keras and not module.startswith("test_utils"):
            for value in list(frame.f_locals.values())[:64]:
                _tensors(value, found)
        elif failed is None and _layer_method(frame, keras, ("__call__",)) is not None:
            called: list[Any] = []  # the layer whose call raised, and the tensors it was called on
            for value in [*frame.f_locals.get("args", ()), *dict(frame.f_locals.get("kwargs", {})).values()]:
                _tensors(value, called)
            if called:
                failed = (frame.f_locals["self"], called)
                found.extend(called)
    outputs = [t for i, t in enumerate(found) if all(t is not other for other in found[:i])
               and all(t is not x for x in inputs)]
    connected = []
    for tensor in outputs:
        try:
            tf.keras.Model(inputs, tensor)
            connected.append(tensor)
        except Exception:  # a tensor that does not come from these inputs
            continue
    if failed is not None and not all(any(t is c for c in connected) or any(t is x for x in inputs)
                                      for t in failed[1]):
        failed = None
    if not connected and failed is None:
        return None
    try:
        return structure.describe(tf.keras.Model(inputs, connected or inputs), failed=failed)
    except Exception:
        return None


def role_keys(model: Any, description: dict[str, Any] | None = None) -> list[int]:
    """One number per layer of ``model`` (``model.layers`` order) that names the layer by what it computes from
    the model's inputs: its class, its weights' shapes and its inputs' keys (as a set for a commutative merge).

    ``model.layers`` follows the order in which tensors are used, so ``Add()([b, a])`` for ``Add()([a, b])``
    renumbers the layers; their keys stay the same. Layers that compute the same thing from the same tensors
    are told apart by their order. ``description``: ``structure.describe(model)`` where the caller has it.
    """
    description = description if description is not None else structure.describe(model)
    layers = model.layers
    position = {id(getattr(t, "_keras_history", [None])[0]): i for i, t in enumerate(model.inputs)}
    keys: list[int] = []
    seen: dict[int, int] = {}
    for number, (row, layer) in enumerate(zip(description["layers"], layers), start=1):
        feeds = []
        for ref in row[3]:
            head, _, tail = str(ref).partition(":")
            feeds.append(f"{keys[int(head) - 1]}:{tail}" if head.isdigit() and int(head) < number else "?")
        if row[0] in structure.COMMUTATIVE:
            feeds.sort()
        shapes = [tuple(int(d) for d in w.shape) for w in layer.weights]
        text = repr((row[0], shapes, feeds, position.get(id(layer)) if row[0] == "InputLayer" else None))
        key = zlib.crc32(text.encode())
        seen[key] = seen.get(key, -1) + 1
        keys.append(zlib.crc32(f"{key}/{seen[key]}".encode()))
    return keys


def measure(model: Any, seed: int, training: bool, description: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Outputs of ``model`` with weights and inputs derived from ``seed``, as compact projections.

    Weight ``k`` of a layer gets values from ``numpy.random.default_rng([seed, key, k])``, ``key`` being the
    layer's :func:`role_keys` entry, so the same layer gets the same values however ``model.layers`` orders
    it (variances stay positive); each input is a batch of 3 uniform images. Each output is reduced to its
    shape, its norm and ``PROJECTIONS`` random projections, so evidence stays small. ``description``: the
    model's, where the caller has it (not described again).
    """
    import numpy as np

    for layer, key in zip(model.layers, role_keys(model, description)):
        for index, weight in enumerate(layer.weights):
            shape = tuple(int(d) for d in weight.shape)
            rng = np.random.default_rng([int(seed), key, index])
            name = str(getattr(weight, "path", None) or weight.name)
            if "variance" in name:
                value = rng.uniform(0.5, 1.5, shape)
            elif len(shape) >= 2:
                value = rng.normal(0, 1 / np.sqrt(max(1, int(np.prod(shape[:-1])))), shape)
            else:
                value = rng.normal(0, 0.2, shape)
            weight.assign(value.astype("float32"))
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
