"""Check how ``unet_model`` wires its blocks, independently of the student's blocks.

``unet_model`` is graded on its own: a mistake in ``conv_block`` or ``upsampling_block``
must not also cost the third exercise. :func:`trace_unet` therefore calls the student's
``unet_model`` with two *stand-in* blocks swapped into its global namespace. The stand-ins
are deliberately not the exercise's answers (a 1x1 convolution, a plain upsampling); they
only record how they were called and return tensors of the right shapes, so the trace says
which filters, dropout, pooling and skip connections ``unet_model`` asked for.

:func:`check_unet_wiring` compares a trace with the architecture the assignment asks for and
raises ``AssertionError`` with a message that names the block and the argument that differs.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["WiringTrace", "swapped_globals", "trace_unet", "check_unet_wiring", "expected_calls", "compare_calls",
           "BLOCKS", "MAX_CALLS"]

#: The blocks ``unet_model`` calls, by the role the exercise's ``stand_ins`` give them.
BLOCKS = {"conv_block": "encoder", "upsampling_block": "decoder"}
#: Evidence bound: a trace with more block calls than this is not recorded (the lesson makes 9).
MAX_CALLS = 64

_MISSING = object()


@dataclass
class WiringTrace:
    """What ``unet_model`` did when run with stand-in blocks."""

    conv_calls: list[dict[str, Any]] = field(default_factory=list)
    up_calls: list[dict[str, Any]] = field(default_factory=list)
    model: Any = None
    labels: dict[int, str] = field(default_factory=dict)


@contextlib.contextmanager
def swapped_globals(func: Callable[..., Any], **replacements: Any) -> Iterator[None]:
    """Temporarily rebind global names that ``func`` looks up when it runs.

    A notebook function finds ``conv_block`` in the notebook's namespace at call time, so
    replacing the name there for the duration of one call changes what it builds.
    """
    namespace = getattr(func, "__globals__", None)
    if namespace is None:
        raise TypeError(f"expected a Python function, got {type(func).__name__}")
    saved = {name: namespace.get(name, _MISSING) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def _label(trace: WiringTrace, tensor: Any) -> str:
    if isinstance(tensor, (tuple, list)):
        return "a tuple of " + str(len(tensor)) + " tensors (did you pass both outputs of a block?)"
    return trace.labels.get(id(tensor), "a tensor that no block returned")


def _refuse_tuple(call: str, argument: str, value: Any) -> None:
    if isinstance(value, (tuple, list)):
        raise AssertionError(f"{call}: {argument} is a tuple of {len(value)} tensors, expected one tensor. "
                             "conv_block returns (next_layer, skip_connection): pass the element you need.")


def trace_unet(unet_model: Callable[..., Any], input_size: tuple[int, int, int] = (96, 128, 3),
               n_filters: int = 32, n_classes: int = 23, expected: dict[str, Any] | None = None) -> WiringTrace:
    """Build ``unet_model(input_size, n_filters, n_classes)`` with recording stand-in blocks.

    ``expected``: the calls the solution makes (:func:`expected_calls`), to point at the first call that
    differs when building fails."""
    import tensorflow as tf  # imported here so that importing test_utils stays cheap

    layers = tf.keras.layers
    trace = WiringTrace()
    keep: list[Any] = []  # keeps traced tensors alive so their id() stays unique

    def conv_stand_in(inputs: Any = None, n_filters: int = 32, dropout_prob: float = 0,
                      max_pooling: bool = True) -> tuple[Any, Any]:
        index = len(trace.conv_calls) + 1
        _refuse_tuple(f"conv_block call {index}", "inputs", inputs)
        trace.conv_calls.append({"n_filters": n_filters, "dropout_prob": dropout_prob,
                                 "max_pooling": max_pooling, "inputs": inputs})
        features = layers.Conv2D(n_filters, 1, name=f"stand_in_conv_block_{index}")(inputs)
        next_layer = layers.MaxPooling2D(2)(features) if max_pooling else features
        keep.extend([features, next_layer])
        trace.labels[id(features)] = f"the skip_connection of conv_block call {index}"
        if next_layer is not features:
            trace.labels[id(next_layer)] = f"the next_layer of conv_block call {index}"
        else:
            trace.labels[id(features)] = f"the output of conv_block call {index}"
        return next_layer, features

    def up_stand_in(expansive_input: Any, contractive_input: Any, n_filters: int = 32) -> Any:
        index = len(trace.up_calls) + 1
        _refuse_tuple(f"upsampling_block call {index}", "expansive_input", expansive_input)
        _refuse_tuple(f"upsampling_block call {index}", "contractive_input", contractive_input)
        trace.up_calls.append({"n_filters": n_filters, "expansive_input": expansive_input,
                               "contractive_input": contractive_input})
        up = layers.UpSampling2D(2)(expansive_input)
        merged = layers.Concatenate(axis=-1)([up, contractive_input])
        out = layers.Conv2D(n_filters, 1, name=f"stand_in_upsampling_block_{index}")(merged)
        keep.append(out)
        trace.labels[id(out)] = f"the output of upsampling_block call {index}"
        return out

    with swapped_globals(unet_model, conv_block=conv_stand_in, upsampling_block=up_stand_in):
        try:
            trace.model = unet_model(input_size=input_size, n_filters=n_filters, n_classes=n_classes)
        except (AssertionError, NotImplementedError):
            raise
        except Exception as error:  # a wiring mistake often surfaces as a shape error inside Keras
            raise AssertionError(_explain_failure(trace, error, expected)) from None
    if not hasattr(trace.model, "inputs"):
        raise AssertionError(f"unet_model should return a Keras Model, it returned {type(trace.model).__name__}.")
    trace.labels[id(trace.model.inputs[0])] = "the model's Input"
    _name_tensors(trace)  # only now is every block (and the Input) known
    return trace


def _name_tensors(trace: WiringTrace) -> None:
    """Replace the tensors recorded in each call by the sentence that says where they came from."""
    for call in trace.conv_calls:
        call["inputs"] = _label(trace, call["inputs"])
    for call in trace.up_calls:
        for key in ("expansive_input", "contractive_input"):
            call[key] = _label(trace, call[key])


def _explain_failure(trace: WiringTrace, error: Exception, expected: dict[str, Any] | None) -> str:
    """Say why building failed, pointing at the first block call that already differed from the plan."""
    first_line = (str(error).strip().splitlines() or [""])[0]
    _name_tensors(trace)
    want_conv, want_up = (expected or {}).get("conv_block", []), (expected or {}).get("upsampling_block", [])
    differences = [p for p in _compare_calls("conv_block", trace.conv_calls, want_conv)
                   + _compare_calls("upsampling_block", trace.up_calls, want_up) if " times, expected " not in p
                   and "the model's Input" not in p] if expected else []
    failure = f"unet_model failed while building the model ({type(error).__name__}: {first_line})"
    if differences:  # the cause first: the first block call that already differed
        return ("unet_model is not wired as asked, and building it then failed:\n  - " + "\n  - ".join(differences)
                + f"\n  - {failure}")
    return failure


def expected_calls(trace: WiringTrace) -> dict[str, list[dict[str, Any]]]:
    """The block calls of a traced model as plain data: what the release records from the solution."""
    return {"conv_block": [dict(call) for call in trace.conv_calls],
            "upsampling_block": [dict(call) for call in trace.up_calls]}


def _compare_calls(kind: str, got: list[dict[str, Any]], want: list[dict[str, Any]]) -> list[str]:
    problems = []
    if len(got) != len(want):
        problems.append(f"unet_model called {kind} {len(got)} times, expected {len(want)}.")
    for index, (g, w) in enumerate(zip(got, want), start=1):
        for key, expected in w.items():
            value = g[key]
            same = (abs(float(value) - float(expected)) < 1e-9) if key == "dropout_prob" else value == expected
            if not same:
                problems.append(f"{kind} call {index}: {key} is {value!r}, expected {expected!r}.")
    return problems


def compare_calls(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Every way the block calls ``got`` differ from ``want`` (both as :func:`expected_calls` gives them), in the
    words the public check uses: the grader judges the hidden cases' calls with this, so both say the same."""
    return (_compare_calls("conv_block", list(got.get("conv_block", [])), list(want.get("conv_block", [])))
            + _compare_calls("upsampling_block", list(got.get("upsampling_block", [])),
                             list(want.get("upsampling_block", []))))


def check_unet_wiring(trace: WiringTrace, expected: dict[str, Any], n_filters: int = 32, n_classes: int = 23) -> None:
    """Raise ``AssertionError`` listing every way ``trace`` differs from the solution's calls ``expected``.

    ``n_filters`` and ``n_classes`` are accepted for the check cells that pass them; the layers after the
    blocks are compared by the structural check that follows in the same cell.
    """
    problems = compare_calls(expected_calls(trace), expected)
    if problems:
        raise AssertionError("unet_model is not wired as asked:\n  - " + "\n  - ".join(problems))
    print("The block calls match the table; the layers after them are checked next.")
