"""The reference answers: the instructor's solution cells, run in the grader's process, never in a kernel.

A :class:`References` holds one notebook's bundle (what the release stored from the source notebook: the
setup code, each exercise's solution code and spec, and the evidence of every fixed case). It runs the setup
and the solutions once, in a namespace of their own, and turns a case into what a correct answer's evidence
holds (:meth:`References.expected`). Nothing here is specific to one exercise: the solutions come from the
notebook, the cases from its metadata.
"""
from __future__ import annotations

from typing import Any

from test_utils import evidence, exercises, structure

__all__ = ["References"]


class References:
    """The reference answers of one source notebook, built from its bundle on first use."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle
        self._namespace: dict[str, Any] | None = None
        self.specs = {name: exercises.ExerciseSpec.from_json(item["spec"])
                      for name, item in bundle["exercises"].items()}

    def namespace(self) -> dict[str, Any]:
        """The setup code and every solution cell, executed once, in notebook order."""
        if self._namespace is None:
            namespace: dict[str, Any] = {"__name__": "__references__"}
            exec(compile(self.bundle["setup"], "<setup cells>", "exec"), namespace)
            for name, item in self.bundle["exercises"].items():
                exec(compile(item["solution"], f"<solution {name}>", "exec"), namespace)
            self._namespace = namespace
        return self._namespace

    def function(self, exercise: str) -> Any:
        """The function or class the solution of ``exercise`` defines."""
        spec = self.specs[exercise]
        found = self.namespace().get(spec.function)
        if found is None:
            raise KeyError(f"the solution cell of {exercise} defines no {spec.function}")
        return found

    def expected(self, exercise: str, case: dict[str, Any], seed: int | None) -> Any:
        """What a correct answer's evidence holds for ``case``: the metric's evidence, or the description
        (with ``{"description": ..., "numbers": ...}`` when ``seed`` is given)."""
        spec = self.specs[exercise]
        if spec.kind == "metric":
            return exercises.metric_evidence(self.function(exercise), case)
        import tensorflow as tf

        _forget_layers(tf)
        model = exercises.build(spec, self.function(exercise), case)
        description = structure.describe(model)
        if seed is None:
            return description
        out: dict[str, Any] = {"description": description}
        calls = evidence.block_calls(spec, self.function(exercise), case)
        if calls is not None:
            out["calls"] = calls
        if case.get("numbers"):
            out["numbers"] = {"inference": exercises.measure(model, seed, training=False, description=description)}
            if spec.training_mode:
                out["numbers"]["training"] = exercises.measure(model, seed, training=True, description=description)
        return out


def _forget_layers(tf: Any) -> None:
    """Forget the previous case's layers (Keras's layer counters and graph). Keras 3 is told not to run the
    garbage collector each time (a full collection of TensorFlow's objects costs about 0.3 s per case);
    Keras 2 has no such switch."""
    try:
        tf.keras.backend.clear_session(free_memory=False)
    except TypeError:
        tf.keras.backend.clear_session()
