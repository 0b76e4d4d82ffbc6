"""Structured results of the deeper checks, and one helper that turns them into a test verdict."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _keras, _style

__all__ = ["CheckResult", "LayerRef", "assert_ok", "layer_ref"]


@dataclass(frozen=True)
class LayerRef:
    """A layer named the way messages name it.

    ``index`` is the 0-based position in ``model.layers`` (``None`` when the layer is not part of
    the model that was given); messages count from 1, like :func:`test_utils.comparator`.
    """

    class_name: str
    name: str
    index: int | None = None

    def __str__(self) -> str:
        if self.index is None:
            return f"{self.class_name} {self.name!r}"
        return f"layer {self.index + 1} ({self.class_name} {self.name!r})"


def layer_ref(layer: Any, layers: list[Any] | None = None) -> LayerRef:
    """A :class:`LayerRef` for ``layer``, with its index if it is one of ``layers``."""
    index = next((i for i, other in enumerate(layers or []) if other is layer), None)
    return LayerRef(type(layer).__name__, str(getattr(layer, "name", "?")), index)


@dataclass(frozen=True)
class CheckResult:
    """Base of every check's result: ``ok`` and the ``problems`` found (empty when ok).

    ``problems`` is a tuple so that results stay immutable; each entry is one sentence a
    student can act on. Subclasses add the facts the check found.
    """

    ok: bool
    problems: tuple[str, ...]

    def explain(self) -> str:
        """All problems as one bulleted message ('' when ok)."""
        return "\n".join(f"  - {problem}" for problem in self.problems)


def assert_ok(*results: CheckResult, quiet: bool = False) -> None:
    """Raise ``AssertionError`` listing the problems of every failed result.

    Prints ``All tests passed!`` when every result is ok, unless ``quiet``.
    """
    __tracebackhide__ = True  # IPython and pytest leave this frame out of the traceback a student reads
    for result in results:
        if not isinstance(result, CheckResult):
            raise TypeError(f"assert_ok() expects results of the test_utils checks, got {_keras.describe(result)}.")
    failed = [result for result in results if not result.ok]
    if not failed:
        if not quiet:
            print("All tests passed!")
        return
    colour = _style.colour_enabled()
    header = _style.paint("The model is not built as asked:", "bold", colour)
    raise AssertionError("\n".join([header, *(result.explain() for result in failed)]))
