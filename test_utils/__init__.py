"""The checks a student's notebook runs: public checks under each exercise, evidence for the hidden ones.

Public check cells::

    from test_utils import check
    check(_exercise, conv_block, expected)   # prints "All tests passed!" or raises AssertionError

:func:`check` builds the answer at the exercise's public sizes, prints the layers it built and compares
them with the expected ones, first cause first (:mod:`test_utils.structure`). The older format of the
first lesson is also here: ``comparator(summary(model), expected)`` compares one list per layer,
``[class_name, output_shape, param_count, *details]`` (:mod:`test_utils.layer_summary` gives the rules).

Hidden check cells record evidence for the grader, which judges it outside the kernel
(:func:`record`). They load a private copy of the package first, which an earlier answer cell cannot
have tampered with (rebinding ``check`` in the notebook or monkeypatching ``test_utils`` does not reach
it); see :mod:`test_utils._isolation` for how, and for what it does not defend against::

    import runpy, sys  # private copy of test_utils, loaded from its files, not from sys.modules
    _tu_spec = [_s for _f in sys.meta_path if (_s := _f.find_spec("test_utils", None))][0]
    tu = runpy.run_path(_tu_spec.submodule_search_locations[0] + "/_isolation.py")["private_copy"]()
    tu.evidence.record(_exercise, conv_block)

Everything works with Keras 3 and with Keras 2 (``TF_USE_LEGACY_KERAS=1``).
"""
from __future__ import annotations

from ._isolation import private_copy
from ._style import strip_ansi
from . import evidence, exercises, structure
from .compare import comparator
from .evidence import check, record
from .layer_summary import summary
from .structure import assert_same, describe, differences

__all__ = [
    "check", "record", "summary", "comparator", "describe", "differences", "assert_same",
    "private_copy", "strip_ansi", "evidence", "exercises", "structure",
]
