"""One structural comparison: a built Keras model described as plain data, and compared.

``describe(model)`` turns a model into JSON-ready data::

    {"layers": [[class_name, output_shape, settings, inputs], ...], "outputs": [layer numbers]}

* one row per layer, in ``model.layers`` order, numbered from 1 (layer 1 is normally the Input);
* ``output_shape``: the shape of the tensor the layer produced in this model, e.g. ``(None, 96, 128, 32)``;
* ``settings``: every architecture setting from the layer's config that differs from the layer's own
  default (kernel size, strides, padding, dilation, groups, activation, use_bias, pool size,
  interpolation, axis, rate, negative slope, initializers, regularizers, ...), plus the non-tensor
  arguments recorded on the layer's call (a hard-coded ``training=True`` shows as ``"call training": True``)
  and, for a class that is not Keras's own, where it was defined;
* ``inputs``: the numbers of the layers whose outputs feed this layer, in the order they are passed;
* ``outputs``: the numbers of the layers whose tensors the model (the block) returns, in order.

``differences(got, want, free=...)`` explains every difference in one student-readable line each,
and ``assert_same`` raises ``AssertionError`` with them. A setting listed in ``free`` is ignored
(``("*", "bias_initializer")``: on every layer; ``("Conv2DTranspose", "kernel_initializer")``: on
that class; ``("output", "kernel_initializer")``: on the layers that produce the model's outputs).

Nothing here imports TensorFlow at import time; a model is described with the Keras that built it.
"""
from __future__ import annotations

import inspect
import numbers
from typing import Any

from . import _keras
from .graph_diff import COMMUTATIVE, MAX_PROBLEMS_SHOWN, Free, assert_same, differences, same_inputs, same_value
from .layer_summary import require_model as _require_model

__all__ = ["describe", "differences", "assert_same", "same_value", "same_inputs", "Free", "MAX_PROBLEMS_SHOWN", "COMMUTATIVE"]

#: Config keys that never count: identity, bookkeeping, and the InputLayer's shape (its output shape counts).
_IGNORED_KEYS = frozenset({"name", "trainable", "dtype", "dtype_policy", "autocast", "build_config", "seed",
                           "batch_input_shape", "batch_shape", "input_shape", "sparse", "ragged",
                           "optional", "input_tensor", "synchronized"})


# ----------------------------------------------------------------------------------------- describing

def _plain(value: Any) -> Any:
    """Lists to tuples, numbers to plain Python numbers, serialized Keras objects to short names."""
    if isinstance(value, dict):
        if "class_name" in value:
            return _object_name(value)
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return repr(value)


def _object_name(serialized: dict[str, Any]) -> str:
    """``HeNormal`` for ``{"class_name": "HeNormal", "config": {"seed": None}}``; settings in brackets."""
    name = str(serialized.get("class_name"))
    config = serialized.get("config")
    if name == "function" and isinstance(config, str):  # a plain function, e.g. an activation
        return config
    extra = {k: v for k, v in (config or {}).items() if k not in ("seed", "name", "dtype") and v is not None} \
        if isinstance(config, dict) else {}
    if not extra:
        return name
    return f"{name}({', '.join(f'{k}={_plain(v)!r}' for k, v in sorted(extra.items()))})"


def _normal_settings(layer: Any, config: dict[str, Any], rank: int | None) -> dict[str, Any]:
    out = {}
    for key, value in config.items():
        if key in _IGNORED_KEYS:
            continue
        value = _plain(value)
        if key == "activation" and value is None:
            value = "linear"
        if key == "axis" and rank:  # -1 and 3 are the same axis of a 4-D tensor
            value = _positive_axis(value, rank)
        out[key] = value
    kernel, dilation = out.get("kernel_size"), out.get("dilation_rate")
    if isinstance(kernel, (list, tuple)) and all(k == 1 for k in kernel) and isinstance(dilation, (list, tuple)):
        # a 1x1 kernel reads one pixel whatever its dilation: the setting cannot change what the layer computes
        out["dilation_rate"] = type(dilation)(1 for _ in dilation)
    return out


def _positive_axis(value: Any, rank: int) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value % rank if -rank <= value < rank else value
    if isinstance(value, tuple) and len(value) == 1:
        return _positive_axis(value[0], rank)
    return value


_DEFAULTS_CACHE: dict[tuple[Any, ...], dict[str, Any] | None] = {}


def _required(cls: type) -> list[str]:
    """The arguments ``cls(...)`` cannot do without (``filters``, ``kernel_size``, ``rate``...)."""
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.name != "self" and p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _defaults(layer: Any, config: dict[str, Any], rank: int | None) -> dict[str, Any] | None:
    """The settings a fresh layer of the same class has when given only its required arguments."""
    cls = type(layer)
    required = _required(cls)
    if any(name not in config for name in required):
        return None
    args = {name: config[name] for name in required}
    key = (cls, rank, repr(sorted(args.items())))
    if key not in _DEFAULTS_CACHE:
        try:
            fresh = cls(**args)
            _DEFAULTS_CACHE[key] = _normal_settings(fresh, fresh.get_config(), rank)
        except Exception:  # a class that cannot be made from its required arguments alone
            _DEFAULTS_CACHE[key] = None
    return _DEFAULTS_CACHE[key]


def _node_in(layer: Any, model_nodes: Any) -> Any:
    nodes = list(getattr(layer, "_inbound_nodes", []) or [])
    if model_nodes is not None:
        for node in nodes:
            if node in model_nodes:
                return node
    return nodes[0] if nodes else None


def _node_tensors(node: Any) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """(input tensors in order, non-tensor positional args, non-tensor keyword args) of one layer call."""
    arguments = getattr(node, "arguments", None)
    if arguments is not None:  # Keras 3
        args, kwargs = list(arguments.args), dict(arguments.kwargs)
    else:  # Keras 2 (tf-keras)
        args, kwargs = list(getattr(node, "call_args", ()) or ()), dict(getattr(node, "call_kwargs", {}) or {})
    tensors: list[Any] = []

    def collect(value: Any) -> bool:
        if _keras.is_symbolic_tensor(value) or hasattr(value, "_keras_history"):
            tensors.append(value)
            return True
        if isinstance(value, (list, tuple)):
            found = [collect(v) for v in value]
            return bool(found) and all(found)
        return False

    plain_args = [a for a in args if not collect(a)]
    plain_kwargs = {k: v for k, v in kwargs.items() if not collect(v)}
    return tensors, plain_args, plain_kwargs


def _call_settings(layer: Any, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The non-tensor call arguments that differ from the call's defaults: ``{"call training": True}``.

    Keras 3 records the default of ``training`` on the node (``Dropout``: ``False``), so a value equal
    to the default of ``layer.call`` counts as not passed.
    """
    try:
        params = list(inspect.signature(layer.call).parameters.values())
    except (TypeError, ValueError):
        params = []
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    names = [p.name for p in params if p.name != "self"][1:]  # after the inputs
    named: dict[str, Any] = {}
    for index, value in enumerate(args):
        named[names[index] if index < len(names) else f"argument {index + 2}"] = value
    named.update(kwargs)
    return {f"call {k}": _plain(v) for k, v in sorted(named.items())
            if not (k in defaults and _plain(v) == _plain(defaults[k])) and not (k == "mask" and v is None)}


def _tensor_ref(tensor: Any, numbers_by_layer: dict[int, int]) -> Any:
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return "?"
    layer, _node_index, tensor_index = history[0], history[1], history[2]
    number = numbers_by_layer.get(id(layer), "?")
    return number if not tensor_index else f"{number}:{tensor_index}"


def _output_shape(node: Any, layer: Any) -> Any:
    outputs = getattr(node, "outputs", None)
    if outputs is None:
        outputs = getattr(node, "output_tensors", None)
    if outputs is None:
        outputs = _keras.first_call(layer, "output")
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    shapes = [_keras.shape_tuple(t.shape) for t in outputs if t is not None]
    return shapes[0] if len(shapes) == 1 else tuple(shapes)


def _settings_of(layer: Any, rank: int | None) -> dict[str, Any]:
    try:
        config = layer.get_config()
    except Exception:  # a custom layer without get_config
        config = {}
    settings = _normal_settings(layer, config, rank)
    defaults = _defaults(layer, config, rank)
    if defaults is not None:  # the required arguments (filters, kernel_size, rate) always show
        required = _required(type(layer))
        settings = {k: v for k, v in settings.items()
                    if k in required or k not in defaults or not same_value(v, defaults[k])}
    module = type(layer).__module__.split(".", 1)[0]
    if module not in _keras.KERAS_PACKAGES:
        settings["defined in"] = type(layer).__module__
    return settings


def describe(model: Any, failed: tuple[Any, list[Any]] | None = None) -> dict[str, Any]:
    """The model as plain data: ``{"layers": [[class, shape, settings, inputs], ...], "outputs": [...]}``.

    ``failed``: a layer whose call raised and the tensors it was called on; it is added as a last row
    with no output shape (what was built before a failure, see :func:`test_utils.exercises.partial_description`).
    Raises ``TypeError`` with an explanation when ``model`` is not a Keras model.
    """
    _require_model(model, "describe()")
    layers = _keras.model_layers(model)
    numbers_by_layer = {id(layer): index for index, layer in enumerate(layers, start=1)}
    model_nodes = getattr(model, "_nodes", None)
    rows = []
    for layer in layers:
        node = _node_in(layer, model_nodes)
        shape = _output_shape(node, layer) if node is not None else None
        rank = len(shape) if isinstance(shape, tuple) and shape and not isinstance(shape[0], tuple) else None
        settings = _settings_of(layer, rank)
        inputs: list[Any] = []
        if node is not None and type(layer).__name__ != "InputLayer":
            tensors, args, kwargs = _node_tensors(node)
            inputs = [_tensor_ref(t, numbers_by_layer) for t in tensors]
            settings.update(_call_settings(layer, args, kwargs))
        rows.append([type(layer).__name__, shape, dict(sorted(settings.items())), inputs])
    if failed is not None:
        layer, tensors = failed
        rank = len(tensors[0].shape) if tensors and getattr(tensors[0], "shape", None) is not None else None
        rows.append([type(layer).__name__, None, dict(sorted(_settings_of(layer, rank).items())),
                     [_tensor_ref(t, numbers_by_layer) for t in tensors]])
    outputs = [_tensor_ref(t, numbers_by_layer) for t in model.outputs]
    return {"layers": rows, "outputs": outputs}


# ----------------------------------------------------------------------------------------- comparing
# (in graph_diff: layers paired by their role in the graph, explanations cause first)

def require_model(model: Any, caller: str) -> None:
    """Raise a student-readable ``TypeError`` unless ``model`` is a Keras model."""
    _require_model(model, caller)


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a symbolic Keras tensor (what calling a layer on an ``Input`` gives)."""
    return _keras.is_symbolic_tensor(value)


def what_is(value: Any) -> str:
    """A short, student-readable description of what ``value`` is."""
    return _keras.describe(value)


def without_shapes(description: dict[str, Any]) -> dict[str, Any]:
    """The description with every output shape blanked: the structure that does not depend on sizes."""
    return {"layers": [[row[0], None, row[2], row[3]] for row in description["layers"]],
            "outputs": list(description["outputs"])}
