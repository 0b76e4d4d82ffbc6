"""Checks for the U-Net exercises, for public and hidden notebook test cells.

Public test cells::

    from test_utils import summary, comparator
    comparator(summary(model), expected)     # prints "All tests passed!" or raises AssertionError

``summary(model)`` gives one list per layer, ``[class_name, output_shape, param_count, *details]``,
with details only for ``Conv2D`` (padding, activation, initializer), ``MaxPooling2D`` (pool size)
and ``Dropout`` (rate); see :mod:`test_utils.layer_summary` for the exact rules, including why
``Conv2DTranspose`` has no details. ``comparator`` fails on any difference, including missing or
extra layers, and says which layer, which field, what it found and what it expected.

Deeper checks, each returning a frozen dataclass with ``ok``, ``problems`` and the facts found
(pass any number of them to :func:`assert_ok` to fail a test cell with their explanations):

* :func:`check_conv_layers` — kernel size, strides, padding, activation, ... of Conv2D and
  Conv2DTranspose layers;
* :func:`check_merge_layers` — the inbound layers of each Concatenate/Add in order, and its axis;
* :func:`check_block_outputs` — which layer produced each tensor a block returns;
* :func:`check_output_activation` — logits or softmax/sigmoid.

Hidden test cells: get a private copy that an earlier answer cell cannot have tampered with
(rebinding ``comparator`` in the notebook or monkeypatching ``test_utils`` does not reach it)::

    import runpy, sys  # private copy of test_utils, loaded from its files, not from sys.modules
    _tu_spec = [_s for _f in sys.meta_path if (_s := _f.find_spec("test_utils", None))][0]
    tu = runpy.run_path(_tu_spec.submodule_search_locations[0] + "/_isolation.py")["private_copy"]()

then use ``tu.comparator(tu.summary(model), expected)``, ``tu.check_merge_layers(...)``, and so on.
The snippet uses only ``import`` statements and names it binds itself (no builtins that a
notebook variable could shadow). See :mod:`test_utils._isolation` for what it does not defend
against. Everything works with Keras 3 and with Keras 2 (``TF_USE_LEGACY_KERAS=1``).
"""
from __future__ import annotations

from ._isolation import private_copy
from ._style import strip_ansi
from . import evidence, exercises, structure
from .compare import comparator
from .evidence import check, record
from .structure import assert_same, describe, differences
from .conv_checks import ConvCheck, ConvFacts, check_conv_layers, conv_layers
from .layer_summary import summary
from .merge_checks import MergeCheck, MergeFacts, check_merge_layers, merge_layers
from .output_checks import (BlockOutputsCheck, OutputActivationCheck, block_outputs, check_block_outputs,
                            check_output_activation, output_activations)
from .results import CheckResult, LayerRef, assert_ok

__all__ = [
    "summary", "comparator", "assert_ok", "private_copy", "strip_ansi",
    "describe", "differences", "assert_same", "check", "record", "evidence", "exercises", "structure",
    "CheckResult", "LayerRef",
    "conv_layers", "check_conv_layers", "ConvFacts", "ConvCheck",
    "merge_layers", "check_merge_layers", "MergeFacts", "MergeCheck",
    "block_outputs", "check_block_outputs", "BlockOutputsCheck",
    "output_activations", "check_output_activation", "OutputActivationCheck",
]
