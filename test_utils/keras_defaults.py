"""Keras's defaults by value, for the explanations: "strides is (1, 1), expected (2, 2) (Keras's default: the
pool size)" reads better than "expected it left at Keras's default".

A description (:func:`test_utils.structure.describe`) lists only the settings that differ from a layer's
defaults, so the comparison does not know them; this table holds the ones students change, in the form a
description shows them. A class or setting not listed here is explained without a value, as before: the table
changes wording only, never a verdict.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

__all__ = ["default", "shown_defaults"]

_CONV = {"strides": (1, 1), "padding": "valid", "dilation_rate": (1, 1), "groups": 1, "activation": "linear",
         "use_bias": True, "kernel_initializer": "GlorotUniform", "bias_initializer": "Zeros"}
_POOL = {"pool_size": (2, 2), "padding": "valid"}
#: class -> setting -> Keras's default (the same in Keras 3 and tf-keras for every entry)
_TABLE: dict[str, dict[str, Any]] = {
    "Conv2D": _CONV,
    "Conv2DTranspose": {**_CONV, "output_padding": None},
    "MaxPooling2D": _POOL,
    "AveragePooling2D": _POOL,
    "UpSampling2D": {"size": (2, 2), "interpolation": "nearest"},
    "BatchNormalization": {"momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
                           "beta_initializer": "Zeros", "gamma_initializer": "Ones",
                           "moving_mean_initializer": "Zeros", "moving_variance_initializer": "Ones"},
    "Dropout": {"noise_shape": None},
}


def _pool_strides(settings: Mapping[str, Any]) -> tuple[Any, str]:
    return settings.get("pool_size", _POOL["pool_size"]), "the pool size"


#: defaults that follow another setting of the same layer: class -> setting -> settings -> (value, why)
_DERIVED: dict[str, dict[str, Callable[[Mapping[str, Any]], tuple[Any, str]]]] = {
    "MaxPooling2D": {"strides": _pool_strides},
    "AveragePooling2D": {"strides": _pool_strides},
}
#: the defaults a missing layer's line shows: what the layer does with no setting given
_SHOWN = {"MaxPooling2D": ("pool_size", "strides"), "AveragePooling2D": ("pool_size", "strides"),
          "UpSampling2D": ("size",)}


def default(class_name: str, key: str, settings: Mapping[str, Any]) -> tuple[bool, Any, str]:
    """``(known, value, why)``: Keras's default of ``key`` for a layer of ``class_name`` whose other settings are
    ``settings`` (as described); ``why`` is a short reason where the default follows another setting."""
    derived = _DERIVED.get(class_name, {}).get(key)
    if derived is not None:
        value, why = derived(settings)
        return True, value, why
    table = _TABLE.get(class_name, {})
    if key in table:
        return True, table[key], ""
    return False, None, ""


def shown_defaults(class_name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a missing layer's line lists: the described ones plus the defaults that say what it does."""
    out = dict(settings)
    for key in _SHOWN.get(class_name, ()):
        if key not in out:
            known, value, _ = default(class_name, key, settings)
            if known:
                out[key] = value
    return dict(sorted(out.items()))
