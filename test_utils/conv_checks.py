"""Convolution geometry the summary list cannot show: kernel size, strides (and the rest).

Covers ``Conv2D`` and ``Conv2DTranspose`` alike (any layer with ``kernel_size``, ``strides``
and ``padding``), however the student spelled the arguments: ``Conv2D(32, 3)`` and
``Conv2D(filters=32, kernel_size=(3, 3))`` give the same facts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from . import _keras
from .layer_summary import activation_name, initializer_name, require_model
from .results import CheckResult, LayerRef, layer_ref

__all__ = ["ConvFacts", "ConvCheck", "conv_layers", "check_conv_layers", "CONV_KEYS"]

#: Properties ``check_conv_layers`` can check (``kernel_initializer`` is accepted for ``initializer``).
CONV_KEYS = ("class_name", "filters", "kernel_size", "strides", "padding", "activation", "initializer")


@dataclass(frozen=True)
class ConvFacts:
    """What one convolution layer was built with."""

    layer: LayerRef
    filters: int | None
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str
    activation: str
    initializer: str

    def get(self, key: str) -> Any:
        """The fact called ``key`` (one of :data:`CONV_KEYS`)."""
        return self.layer.class_name if key == "class_name" else getattr(self, key)


@dataclass(frozen=True)
class ConvCheck(CheckResult):
    """Result of :func:`check_conv_layers`; ``layers`` holds the facts of the layers checked."""

    layers: tuple[ConvFacts, ...]


def _is_conv(layer: Any) -> bool:
    return all(hasattr(layer, name) for name in ("kernel_size", "strides", "padding")) \
        and not _keras.is_keras_model(layer)


def _classes(layer_class: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if layer_class is None:
        return None
    return (layer_class,) if isinstance(layer_class, str) else tuple(layer_class)


def conv_layers(model: Any, layer_class: str | Sequence[str] | None = None) -> tuple[ConvFacts, ...]:
    """Facts about every convolution layer of ``model`` in layer order.

    ``layer_class`` (e.g. ``"Conv2DTranspose"`` or ``("Conv2D", "Conv2DTranspose")``) keeps only
    layers of exactly those classes; ``None`` keeps all convolution layers.
    """
    require_model(model, "conv_layers()")
    wanted = _classes(layer_class)
    layers = _keras.model_layers(model)
    facts = []
    for layer in layers:
        if not _is_conv(layer) or (wanted is not None and type(layer).__name__ not in wanted):
            continue
        facts.append(ConvFacts(
            layer=layer_ref(layer, layers),
            filters=getattr(layer, "filters", None),
            kernel_size=tuple(int(k) for k in layer.kernel_size),
            strides=tuple(int(s) for s in layer.strides),
            padding=str(layer.padding),
            activation=activation_name(getattr(layer, "activation", None)),
            initializer=initializer_name(getattr(layer, "kernel_initializer", None)),
        ))
    return tuple(facts)


def _canonical(key: str, value: Any, rank: int) -> Any:
    if key in ("kernel_size", "strides"):
        return (int(value),) * rank if isinstance(value, int) else tuple(int(v) for v in value)
    if key == "activation":
        return activation_name(value).lower() if not isinstance(value, str) else value.lower()
    if key == "initializer":
        if not isinstance(value, str):
            value = value.__name__ if isinstance(value, type) else initializer_name(value)
        return value.replace("_", "").lower()
    if key == "padding":
        return str(value).lower()
    return value


def _normalise_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        raise TypeError(f"check_conv_layers(): each expectation must be a dict, got {_keras.describe(spec)}.")
    spec = dict(spec)
    if "kernel_initializer" in spec:
        spec["initializer"] = spec.pop("kernel_initializer")
    unknown = sorted(set(spec) - set(CONV_KEYS))
    if unknown:
        raise TypeError(f"check_conv_layers(): unknown key(s) {unknown}; use some of {list(CONV_KEYS)}.")
    return spec


def _compare(facts: ConvFacts, spec: Mapping[str, Any]) -> list[str]:
    problems = []
    rank = len(facts.kernel_size)
    for key, expected in spec.items():
        found = facts.get(key)
        if _canonical(key, found, rank) == _canonical(key, expected, rank):
            continue
        shown = expected.__name__ if callable(expected) and hasattr(expected, "__name__") else expected
        if key == "class_name":
            problems.append(f"{facts.layer} should be a {expected}")
            continue
        argument = "kernel_initializer" if key == "initializer" else key
        problems.append(f"{facts.layer}: {key} is {found!r}, expected {shown!r} — "
                        f"did you pass {argument}={shown!r}?")
    return problems


def check_conv_layers(model: Any, expected: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                      *, layer_class: str | Sequence[str] | None = None) -> ConvCheck:
    """Check the convolution layers of ``model`` (optionally only those of ``layer_class``).

    ``expected`` is either one dict applied to every selected layer, e.g.
    ``{"kernel_size": 3, "strides": 2, "padding": "same"}``, or a list of dicts, one per selected
    layer in order (then the number of layers must match too). Keys are :data:`CONV_KEYS`;
    ints are accepted for ``kernel_size``/``strides``, ``'he_normal'`` or ``'HeNormal'`` for the
    initializer, a name or a function for the activation. A check that selects no layer fails.
    """
    facts = conv_layers(model, layer_class)
    what = " or ".join(_classes(layer_class) or ("convolution",))
    problems: list[str] = []
    if isinstance(expected, Mapping):
        spec = _normalise_spec(expected)
        if not facts:
            problems.append(f"the model has no {what} layer")
        for fact in facts:
            problems += _compare(fact, spec)
    elif isinstance(expected, Sequence) and not isinstance(expected, str):
        specs = [_normalise_spec(item) for item in expected]
        if len(specs) != len(facts):
            found = ", ".join(str(f.layer) for f in facts) or "none"
            problems.append(f"expected {len(specs)} {what} layers, found {len(facts)} ({found})")
        for fact, spec in zip(facts, specs):
            problems += _compare(fact, spec)
    else:
        raise TypeError(f"check_conv_layers(): expected must be a dict or a list of dicts, got "
                        f"{_keras.describe(expected)}.")
    return ConvCheck(ok=not problems, problems=tuple(problems), layers=facts)
