"""Metric operators: steps of a streaming mean-IoU metric dropped or altered, its registration and config."""
from __future__ import annotations

import ast
from typing import Iterator

from benchmarks.mutants.trees import Candidate, Context, Skip, _function, _namespace, _sub_expr, _sub_stmt

# ------------------------------------------------------------------------------------------ metric operators
# Mistakes and rewrites of a streaming mean-IoU metric (a confusion matrix updated per batch): each applies where
# its text occurs in the solution and is skipped elsewhere. (key, description, intended, [(kind, old, new), ...]);
# kind "e" expression, "s" statement.
_ARGMAX = "tf.argmax(y_pred, axis=-1, output_type=tf.int32)"
_UNION = "tf.reduce_sum(self.confusion, axis=0) + tf.reduce_sum(self.confusion, axis=1) - intersection"
_IOU = "iou = tf.boolean_mask(intersection, seen) / tf.boolean_mask(union, seen)"
_TRUE = "tf.reshape(tf.cast(y_true, tf.int32), [-1])"
_PRED = f"tf.reshape({_ARGMAX}, [-1])"
_CM = "tf.math.confusion_matrix(true, predicted, num_classes=self.num_classes, dtype=tf.float64)"

_METRIC: list[tuple[str, str, bool | None, list[tuple[str, str, str]]]] = [
    ("no-argmax", "scores cast to ids instead of argmax", False, [("e", _ARGMAX, "tf.cast(y_pred, tf.int32)")]),
    ("argmax-axis0", "argmax over axis 0", False, [("e", _ARGMAX, "tf.argmax(y_pred, axis=0, output_type=tf.int32)")]),
    ("argmax-axis1", "argmax over axis 1", False, [("e", _ARGMAX, "tf.argmax(y_pred, axis=1, output_type=tf.int32)")]),
    ("argmax-axis3", "argmax over axis 3 (only right for 4-D scores)", False,
     [("e", _ARGMAX, "tf.argmax(y_pred, axis=3, output_type=tf.int32)")]),
    ("argmax-int64", "argmax without output_type (int64 ids)", None, [("e", _ARGMAX, "tf.argmax(y_pred, axis=-1)")]),
    ("no-reset", "reset_state does nothing", False, [("s", "self.confusion.assign(tf.zeros_like(self.confusion))", "pass")]),
    ("reset-ones", "reset_state fills ones", False,
     [("s", "self.confusion.assign(tf.zeros_like(self.confusion))", "self.confusion.assign(tf.ones_like(self.confusion))")]),
    ("init-ones", "the confusion matrix starts at ones", False, [("e", "'zeros'", "'ones'")]),
    ("union-no-minus", "union without subtracting the intersection", False,
     [("e", _UNION, "tf.reduce_sum(self.confusion, axis=0) + tf.reduce_sum(self.confusion, axis=1)")]),
    ("union-axes", "union's two sums in the other order", True,
     [("e", _UNION, "tf.reduce_sum(self.confusion, axis=1) + tf.reduce_sum(self.confusion, axis=0) - intersection")]),
    ("mean-all", "mean over every class (absent ones count 0)", False, [("s", _IOU, "iou = intersection / tf.maximum(union, 1.0)")]),
    ("mean-all-nan", "divide_no_nan over every class", False, [("s", _IOU, "iou = tf.math.divide_no_nan(intersection, union)")]),
    ("seen-truth", "mean over the classes in the truth only", False,
     [("s", "seen = union > 0", "seen = tf.reduce_sum(self.confusion, axis=1) > 0")]),
    ("seen-hit", "mean over the classes with a non-empty intersection", False, [("s", "seen = union > 0", "seen = intersection > 0")]),
    ("seen-greater", "tf.greater(union, 0)", True, [("s", "seen = union > 0", "seen = tf.greater(union, 0)")]),
    ("smoothed", "IoU smoothed with +1", False, [("s", _IOU, "iou = (tf.boolean_mask(intersection, seen) + 1) / "
                                                     "(tf.boolean_mask(union, seen) + 1)")]),
    ("no-reshape-true", "labels not flattened", False, [("e", _TRUE, "tf.cast(y_true, tf.int32)")]),
    ("no-reshape-pred", "predictions not flattened", False, [("e", _PRED, _ARGMAX)]),
    ("no-cast-true", "labels not cast to int32", None, [("e", _TRUE, "tf.reshape(y_true, [-1])")]),
    ("reshape-tuple", "tf.reshape(x, (-1,))", True, [("e", _TRUE, "tf.reshape(tf.cast(y_true, tf.int32), (-1,))"),
                                                    ("e", _PRED, f"tf.reshape({_ARGMAX}, (-1,))")]),
    ("float32", "float32 accumulators", True, [("e", "'float64'", "'float32'"), ("e", "tf.float64", "tf.float32")]),
    ("confusion-transposed", "confusion matrix of (predicted, true): IoU is symmetric", True,
     [("e", _CM, "tf.math.confusion_matrix(predicted, true, num_classes=self.num_classes, dtype=tf.float64)")]),
    ("classes-{public}", "confusion matrix sized for the public case's {public} classes, whatever num_classes is", False,
     [("e", _CM, "tf.math.confusion_matrix(true, predicted, num_classes={public}, dtype=tf.float64)")]),
    ("assign", "assign instead of assign_add (only the last batch counts)", False,
     [("s", "self.confusion.assign_add(batch)", "self.confusion.assign(batch)")]),
    ("reduce-sum", "sum of the IoUs instead of their mean", False,
     [("s", "return tf.cast(tf.reduce_mean(iou), tf.float32)", "return tf.cast(tf.reduce_sum(iou), tf.float32)")]),
    ("per-all-classes", "sum of IoUs divided by num_classes", False,
     [("s", "return tf.cast(tf.reduce_mean(iou), tf.float32)",
       "return tf.cast(tf.reduce_sum(iou) / self.num_classes, tf.float32)")]),
    ("no-cast-result", "result returned as float64", None,
     [("s", "return tf.cast(tf.reduce_mean(iou), tf.float32)", "return tf.reduce_mean(iou)")]),
    ("name-iou", "default name 'iou'", False, [("e", "'mean_iou'", "'iou'")]),
    ("name-dropped", "name not passed to Metric.__init__", False,
     [("s", "super().__init__(name=name, **kwargs)", "super().__init__(**kwargs)")]),
    ("config-no-classes", "get_config without num_classes", False,
     [("s", "return {**super().get_config(), 'num_classes': self.num_classes}", "return super().get_config()")]),
    ("int-dropped", "num_classes stored without int()", True,
     [("s", "self.num_classes = int(num_classes)", "self.num_classes = num_classes")]),
]


def _op_metric(code: str, ctx: Context) -> Iterator[Candidate]:
    public = str(ctx.meta["public"][0].get("classes", "")) if ctx.meta.get("public") else ""
    for key, description, intended, subs in _METRIC:
        subs = [(kind, old, new.replace("{public}", public)) for kind, old, new in subs]

        def edit(tree: ast.Module, subs: list = subs) -> None:
            for kind, old, new in subs:
                (_sub_expr if kind == "e" else _sub_stmt)(tree, old, new)
        yield "metric", key.replace("{public}", public), description.replace("{public}", public), intended, "", edit

    def undecorated(tree: ast.Module) -> None:
        cls = _function(tree)
        if not cls.decorator_list:
            raise Skip("not decorated")
        cls.decorator_list = []
    yield "metric", "unregistered", "class not registered with Keras (no decorator)", False, "", undecorated
    yield "rewrite", "rewrite:keras", "import keras; keras.metrics.Metric and keras.utils.register_keras_serializable", \
        True, "", lambda t: _namespace(t, "keras")


