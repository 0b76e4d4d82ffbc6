"""Why a streaming mean IoU differs: the values it reported, matched against known mistakes.

The check already streams the metric over known batches and records what it reported after each batch and
after ``reset_state`` (:func:`test_utils.exercises.metric_evidence`). The same batches are replayed here with
numpy under each well-known mistake (averaging over the wrong classes, a union that counts the intersection
twice, a ``reset_state`` that keeps the earlier batches, an ``update_state`` that keeps only the latest
batch...). When the reported values are exactly those of one mistake, the explanation names it; otherwise it
says which value differs.

:func:`metric_problems` is the one function that explains a metric, in the public check and in the grader.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

__all__ = ["metric_problems", "failure_cause", "saves_cause"]

Close = Callable[[float, float], bool]

#: (name, how the per-class IoUs are averaged, the sentence naming the mistake)
_AVERAGES: list[tuple[str, str]] = [
    ("every", "the mean IoU averages over every class, also those in neither the truth nor the predictions "
              "(they count as 0): average over the classes seen (union > 0) only"),
    ("truth", "the mean IoU averages only over the classes in the truth: a class that is only predicted "
              "counts too (union > 0)"),
    ("hit", "the mean IoU leaves out the classes whose intersection is empty: a class that was seen but never "
            "predicted right counts as 0"),
    ("double", "the union counts the intersection twice: union = true + predicted - intersection"),
    ("smoothed", "each class's IoU is smoothed (+1 above and below): divide the intersection by the union exactly"),
    ("sum", "the result is the sum of the per-class IoUs, not their mean"),
]
_LAST = ("each value counts only the latest batch: update_state must add the batch's confusion matrix "
         "to the running one (assign_add), not replace it")
_START = "the running confusion matrix does not start at zeros"
_NO_RESET = ("after reset_state the metric still counts earlier batches: reset_state must set the running "
             "confusion matrix back to zeros")


def _confusion(true: Any, scores: Any, classes: int) -> Any:
    predicted = np.argmax(scores, axis=-1).reshape(-1)
    labels = np.asarray(true).reshape(-1).astype(int)
    matrix = np.zeros((classes, classes))
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def _mean_iou(matrix: Any, how: str = "seen") -> float:
    intersection = np.diag(matrix)
    truth, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    union = truth + predicted - intersection
    seen = union > 0
    if how == "every":
        return float(np.mean(np.where(union > 0, intersection / np.maximum(union, 1), 0.0)))
    if how == "truth":
        seen = truth > 0
    elif how == "hit":
        seen = intersection > 0
    if not seen.any():
        return float("nan")
    if how == "double":
        return float(np.mean(intersection[seen] / (truth + predicted)[seen]))
    if how == "smoothed":
        return float(np.mean((intersection[seen] + 1) / (union[seen] + 1)))
    if how == "sum":
        return float(np.sum(intersection[seen] / union[seen]))
    return float(np.mean(intersection[seen] / union[seen]))


def _all_close(got: list[Any], want: list[float], close: Close) -> bool:
    return len(got) == len(want) and all(isinstance(g, (int, float)) and close(float(g), w) for g, w in zip(got, want))


def _diagnose(got: dict[str, Any], case: dict[str, Any], close: Close) -> str | None:
    """The known mistake whose values are exactly those reported, or ``None``."""
    from .exercises import metric_batches

    classes = int(case["classes"])
    matrices = [_confusion(true, scores, classes) for true, scores in metric_batches(case)]
    running = np.cumsum(matrices, axis=0)
    values = list(got.get("values", []))
    reference = [_mean_iou(m) for m in running]
    if not _all_close(values, reference, close):
        for how, sentence in _AVERAGES:
            guess = [_mean_iou(m, how) for m in running]
            if guess != reference and _all_close(values, guess, close):
                return sentence
        if _all_close(values, [_mean_iou(m) for m in matrices], close):
            return _LAST
        if _all_close(values, [_mean_iou(m + 1) for m in running], close):
            return _START
        return None
    after = got.get("after_reset")
    if isinstance(after, (int, float)) and not close(float(after), _mean_iou(matrices[0])) \
            and close(float(after), _mean_iou(running[-1] + matrices[0])):
        return _NO_RESET
    return None


def metric_problems(got: dict[str, Any], want: dict[str, Any], case: dict[str, Any], close: Close) -> list[str]:
    """Every way the metric evidence ``got`` differs from the reference's ``want`` on ``case``, the cause first.

    ``close(got, want)``: whether two values count as equal (the public check and the grader each pass theirs).
    """
    problems = []
    values, expected = list(got.get("values", [])), list(want["values"])
    differs = not _all_close(values, expected, close)
    after = got.get("after_reset")
    reset_differs = not (isinstance(after, (int, float)) and close(float(after), float(want["after_reset"])))
    if differs or reset_differs:
        try:
            cause = _diagnose(got, case, close)
        except (KeyError, TypeError, ValueError, IndexError):
            cause = None
        if cause:
            problems.append(cause)
    if differs:
        if len(values) != len(expected):
            problems.append(f"the metric reported {len(values)} values for {len(expected)} batches")
        for number, (value, wanted) in enumerate(zip(values, expected), start=1):
            if not close(float(value), float(wanted)):
                problems.append(f"after batch {number} the mean IoU is {value:.5f}, expected {wanted:.5f}")
                break
    if reset_differs and not any(p == _NO_RESET for p in problems):
        shown = f"{after:.5f}" if isinstance(after, (int, float)) else repr(after)
        problems.append(f"after reset_state and one batch the mean IoU is {shown}, expected "
                        f"{float(want['after_reset']):.5f}: reset_state should start again from zero")
    if got.get("name") != want["name"]:
        problems.append(f"the metric's name is {got.get('name')!r}, expected {want['name']!r}: pass name to "
                        "Metric.__init__ (super().__init__(name=name, **kwargs))")
    if list(got.get("clone", [])) != list(want["clone"]):
        problems.append(f"from_config(get_config()) gives name and num_classes {got.get('clone')}, "
                        f"expected {want['clone']}: get_config must return num_classes")
    return problems


_SHAPES = re.compile(r"values\[0\]\.shape = \[([\d,]*)\] != values\[1\]\.shape = \[([\d,]*)\]")


def failure_cause(error: str) -> str | None:
    """What a metric's failure while streaming most likely means, from the error it raised (or ``None``)."""
    if "`predictions` out of bound" in error or "`predictions` contains negative values" in error:
        return ("the predicted class ids are out of range: a pixel's predicted class is the argmax of its scores "
                "over the last axis (the classes)")
    if "`labels` out of bound" in error:
        return "a label is out of range: size the confusion matrix with num_classes=self.num_classes"
    if "Expected dimension in the range" in error and "ArgMax" in error:
        return "the argmax is taken over an axis the scores do not have: take it over the last axis (axis=-1)"
    if "missing 1 required positional argument: 'num_classes'" in error:
        return ("get_config does not return num_classes, so from_config(get_config()) cannot rebuild the metric: "
                "return {**super().get_config(), \"num_classes\": self.num_classes}")
    found = _SHAPES.search(error)
    if found:
        labels, predicted = found.group(1).split(","), found.group(2).split(",")
        if len(labels) > 1 or len(predicted) > 1:
            which = "the labels" if len(labels) > 1 else "the predictions"
            return f"{which} are not flattened: reshape both to one class id per pixel ([-1]) before the confusion matrix"
        return (f"the labels give {labels[0]} class ids and the predictions {predicted[0]}: a pixel's predicted class "
                "is the argmax of its scores over the last axis (axis=-1)")
    return None


def saves_cause(error: str) -> str:
    """Why a model compiled with the metric could not be saved and loaded back, from the error."""
    if "Could not locate class" in error:
        return ("the metric class is not registered with Keras, so a saved model cannot be loaded back: decorate "
                "it with @tf.keras.utils.register_keras_serializable(...)")
    return f"a model compiled with the metric could not be saved and loaded back: {error}"
