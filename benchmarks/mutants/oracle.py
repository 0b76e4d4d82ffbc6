"""An oracle independent of the notebooks' checks: does a mutant change what the notebook asks for?

Layers (``conv_block``, ``upsampling_block``, ``unet_model``, ``upsample_conv_block``, ``bn_conv_block``): the
instructor's answer and the mutant are built side by side at several sizes and settings. The oracle compares
what the notebook text states and behaviour shows: the returned structure (which tensor is which, and whether
``next_layer is skip_connection`` without pooling), the kinds and numbers of layers applied, output shapes,
weight shapes, the kernel initializers and paddings the text prescribes (wherever the answer sets a non-default
one: he_normal, "same"; a 1x1 convolution behaves alike with either padding, but the text asks for "same"), and
the outputs on random inputs with the reference's random weights copied into the mutant, in inference mode,
with no mode given (``model(x)``: where a hard-coded ``training=`` shows) and in training mode (Dropout layers
reseeded alike before every call); and no layer may be applied with a hard-coded ``training=``, which the
text forbids (Keras 3 overrides ``training=False``, so behaviour cannot show it). ``unet_model`` is built with
the reference blocks in its globals, as the graded check does.

The metric is compared with a numpy mean IoU over streamed batches (a class predicted but absent from the
truth, a class absent from both, labels with and without the trailing axis), plus its name, ``reset_state``,
the config round trip, a compiled ``evaluate`` (graph mode) and loading a saved model without custom objects.

A difference anywhere makes the mutant "wrong"; it is "visible" when the difference shows at the settings the
notebook's public check cell uses. Nothing here imports ``test_utils``.
"""
from __future__ import annotations

import ast
import gc
import os
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.mutants.generate import ASSIGNMENTS, REPO, Mutant, solutions  # noqa: E402

MODES = (("inference", False), ("default", None), ("training", True))


@dataclass(frozen=True)
class Verdict:
    equivalent: bool
    visible: bool  # the difference shows at the public check's settings
    reason: str = ""  # the first difference found

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", " ".join(self.reason.split())[:300])


@dataclass(frozen=True)
class Setting:
    label: str
    public: bool
    shapes: tuple[tuple[int, ...], ...] = ()  # one Input per shape (blocks); none for unet_model
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    batch: int = 2
    modes: tuple[str, ...] = ("inference", "default", "training")


# The public cells' cases (test_<exercise> runs them through test_utils.exercises.EXERCISES[...].public;
# tests/benchmarks/test_mutants.py checks that these copies still match). Calls as the check makes them:
# the block on fresh Inputs with keyword arguments.
_CONV_PUBLIC = (
    Setting("public: conv_block(Input((96, 128, 3)), n_filters=32)", True, ((96, 128, 3),), (), {"n_filters": 32}),
    # 1024 filters at 96 x 128 cost seconds per call: one image; inference equals the default mode unless
    # a training= is hard-coded, which the default mode shows
    Setting("public: conv_block(Input((96, 128, 3)), n_filters=1024, dropout_prob=0.1, max_pooling=True)", True,
            ((96, 128, 3),), (), {"n_filters": 1024, "dropout_prob": 0.1, "max_pooling": True}, batch=1,
            modes=("default", "training")),
)
_ENCODER_HIDDEN = (
    Setting("defaults at 8x8x3", False, ((8, 8, 3),)),
    Setting("16x16x3, 4 filters (positional)", False, ((16, 16, 3),), (4,)),
    Setting("12x20x5, 6 filters, dropout 0.25, no pooling", False, ((12, 20, 5),), (),
            {"n_filters": 6, "dropout_prob": 0.25, "max_pooling": False}),
    Setting("16x24x2, 3 filters, dropout 0.5", False, ((16, 24, 2),), (), {"n_filters": 3, "dropout_prob": 0.5}),
    Setting("10x14x4, 5 filters, no pooling", False, ((10, 14, 4),), (5,), {"max_pooling": False}),
)
_DECODER_PUBLIC = (Setting("public: block(Input((12, 16, 256)), Input((24, 32, 128)), n_filters=32)", True,
                           ((12, 16, 256), (24, 32, 128)), (), {"n_filters": 32}),)
_DECODER_HIDDEN = (
    Setting("defaults, 2x2x4 + 4x4x4", False, ((2, 2, 4), (4, 4, 4))),
    Setting("3x4x8 + 6x8x5, 4 filters", False, ((3, 4, 8), (6, 8, 5)), (), {"n_filters": 4}),
    Setting("5x5x2 + 10x10x3, 3 filters (positional)", False, ((5, 5, 2), (10, 10, 3)), (3,)),
)
SETTINGS: dict[str, tuple[Setting, ...]] = {
    "conv_block": _CONV_PUBLIC + _ENCODER_HIDDEN,
    "bn_conv_block": (
        Setting("public: bn_conv_block(Input((8, 8, 3)), n_filters=4)", True, ((8, 8, 3),), (), {"n_filters": 4}),
        Setting("public: bn_conv_block(Input((96, 128, 3)), n_filters=32, dropout_prob=0.2)", True,
                ((96, 128, 3),), (), {"n_filters": 32, "dropout_prob": 0.2}),
    ) + _ENCODER_HIDDEN,
    "upsampling_block": _DECODER_PUBLIC + _DECODER_HIDDEN,
    "upsample_conv_block": _DECODER_PUBLIC + _DECODER_HIDDEN,
    "unet_model": (
        Setting("public: unet_model(input_size=(96, 128, 3), n_filters=32, n_classes=23)", True, (), (),
                {"input_size": (96, 128, 3), "n_filters": 32, "n_classes": 23}, batch=1),
        Setting("32x32x3, 2 filters, 4 classes", False, (), (), {"input_size": (32, 32, 3), "n_filters": 2, "n_classes": 4}),
        Setting("32x48x1, 3 filters, 13 classes", False, (), (), {"input_size": (32, 48, 1), "n_filters": 3, "n_classes": 13}),
        Setting("16x32x2, 1 filter, 3 classes", False, (), (), {"input_size": (16, 32, 2), "n_filters": 1, "n_classes": 3}),
    ),
}
# The public cell test_mean_iou: 5 classes, two batches (class 3 predicted once but never true, class 4 nowhere;
# the second batch's labels without the trailing axis), then reset_state and batch 1 again.
PUBLIC_METRIC = (5, [
    ([[[0], [1]], [[1], [2]]], [[[5., 1., 0., 0., 0.], [0., 3., 1., 0., 0.]], [[0., 1., 4., 0., 0.], [0., 0., 1., 2., 0.]]]),
    ([[2, 2], [0, 1]], [[[0., 0., 3., 0., 0.], [1., 0., 2., 0., 0.]], [[2., 0., 0., 0., 0.], [0., 0., 0., 1., 0.]]]),
])
ENTRY = {"mean_iou": "SegmentationMeanIoU"}  # the name an answer cell defines, when not the grade_id
REGISTERED = "unet_course>SegmentationMeanIoU"


class Different(Exception):
    """The mutant differs from the reference; the message says where."""


@dataclass
class Record:
    structure: tuple
    layers: Counter
    out_shapes: list
    weight_shapes: list
    initializers: list  # (kernel initializer, padding) of every layer with a kernel
    fixed_modes: str  # layers applied with a training= argument (Keras itself records Dropout's default)
    weights: list[np.ndarray] = field(default_factory=list)  # the random weights both models run with
    outputs: dict[str, list[np.ndarray]] = field(default_factory=dict)  # mode -> outputs


def _imports(assignment: str, repo: Path) -> str:
    """The import statements of the notebook's setup cell, without the kit's own packages."""
    import nbformat

    nb = nbformat.read(repo / "source" / assignment / ASSIGNMENTS[assignment][0], as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup_imports")
    keep = [n for n in ast.parse(cell.source).body
            if isinstance(n, ast.Import) and not any(a.name.split(".")[0] in ("data_fetch", "test_utils") for a in n.names)
            or isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] not in ("data_fetch", "test_utils")]
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


def _np_mean_iou(true: Any, scores: Any) -> float:
    t = np.asarray(true).reshape(-1)
    p = np.asarray(scores).argmax(-1).reshape(-1)
    ious = [np.sum((t == c) & (p == c)) / np.sum((t == c) | (p == c)) for c in np.union1d(t, p)]
    return float(np.mean(ious))


class Oracle:
    """Judges mutants against the instructor's answers; reference results are computed once and cached."""

    def __init__(self, repo: Path = REPO) -> None:
        import keras  # noqa: F401  (fail early when TensorFlow is missing)
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # no retracing notices from the metric's compiled evaluate

        self.repo = repo
        self._globals: dict[str, dict[str, Any]] = {}
        self._answers = {a: solutions(a, repo) for a in ASSIGNMENTS}
        self._refs: dict[tuple[str, str], Record] = {}

    # ------------------------------------------------------------------------------------------ loading
    def _namespace(self, assignment: str) -> dict[str, Any]:
        if assignment not in self._globals:
            ns: dict[str, Any] = {"__name__": f"oracle_{assignment}"}
            exec(compile(_imports(assignment, self.repo), f"<imports {assignment}>", "exec"), ns)
            self._globals[assignment] = ns
        return dict(self._globals[assignment])

    def load(self, assignment: str, exercise: str, code: str) -> Any:
        """Run an answer cell in a fresh copy of the notebook's imports; return what it defines."""
        import keras

        ns = self._namespace(assignment)
        if exercise == "unet_model":  # judged on how it connects known-good blocks
            ref = self._namespace("unet")
            exec(compile(self._answers["unet"]["conv_block"] + "\n" + self._answers["unet"]["upsampling_block"],
                         "<reference blocks>", "exec"), ref)
            ns.update(conv_block=ref["conv_block"], upsampling_block=ref["upsampling_block"])
        if exercise == "mean_iou":
            keras.saving.get_custom_objects().pop(REGISTERED, None)  # no registration left over from another run
        exec(compile(code, f"<answer {exercise}>", "exec"), ns)
        return ns[ENTRY.get(exercise, exercise)]

    # ------------------------------------------------------------------------------------------- judging
    def judge(self, mutant: Mutant) -> Verdict:
        return self.judge_code(mutant.assignment, mutant.exercise, mutant.code)

    def judge_code(self, assignment: str, exercise: str, code: str) -> Verdict:
        import keras

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                try:
                    entry = self.load(assignment, exercise, code)
                except Exception as exc:  # the cell itself fails
                    return Verdict(False, True, f"the cell fails: {type(exc).__name__}: {exc}")
                if exercise == "mean_iou":
                    return self._judge_metric(entry)
                for setting in SETTINGS[exercise]:
                    try:
                        self._compare(assignment, exercise, entry, setting)
                    except Different as diff:
                        return Verdict(False, setting.public, f"{setting.label}: {diff}")
                return Verdict(True, False)
            finally:
                keras.backend.clear_session()
                gc.collect()

    def _reference(self, assignment: str, exercise: str, setting: Setting) -> Record:
        key = (exercise, setting.label)
        if key not in self._refs:
            fn = self.load(assignment, exercise, self._answers[assignment][exercise])
            self._refs[key] = self._record(exercise, fn, setting, reference=None)
        return self._refs[key]

    def _compare(self, assignment: str, exercise: str, fn: Any, setting: Setting) -> None:
        ref = self._reference(assignment, exercise, setting)
        self._record(exercise, fn, setting, reference=ref)

    def _record(self, exercise: str, fn: Any, setting: Setting, reference: Record | None) -> Record:
        """Build ``fn`` at ``setting``; with a reference, raise Different at the first difference."""
        import keras

        keras.backend.clear_session()

        def differ(what: str, mine: Any, theirs: Any) -> None:
            if reference is None or mine == theirs:
                return
            if isinstance(mine, list) and isinstance(theirs, list):
                if len(mine) != len(theirs):
                    raise Different(f"{what}: {len(mine)} instead of {len(theirs)}")
                i = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b)
                raise Different(f"{what}, number {i + 1}: {mine[i]} instead of {theirs[i]}")
            raise Different(f"{what}: {mine} instead of {theirs}")

        try:
            if exercise == "unet_model":
                model = fn(*setting.args, **setting.kwargs)
                if not isinstance(model, keras.Model):
                    raise Different(f"returns a {type(model).__name__}, not a keras Model")
                structure: tuple = ("model", len(model.inputs), len(model.outputs))
            else:
                inputs = [keras.Input(shape) for shape in setting.shapes]
                out = fn(*inputs, *setting.args, **setting.kwargs)
                if isinstance(out, (tuple, list)):
                    structure = ("pair", len(out), len(out) == 2 and out[0] is out[1])
                    model = keras.Model(inputs, list(out))
                else:
                    structure = ("tensor",)
                    model = keras.Model(inputs, out)
        except Different:
            raise
        except Exception as exc:
            if reference is None:
                raise
            raise Different(f"building fails: {type(exc).__name__}: {exc}") from None
        layers = Counter(type(layer).__name__ for layer in model.layers if type(layer).__name__ != "InputLayer")
        record = Record(structure, layers, [tuple(t.shape) for t in model.outputs],
                        [tuple(w.shape) for w in model.weights],
                        [(type(layer.kernel_initializer).__name__, getattr(layer, "padding", "valid"))
                         for layer in model.layers if getattr(layer, "kernel_initializer", None) is not None],
                        ", ".join(sorted(f"{type(layer).__name__}(training={node.arguments.kwargs['training']})"
                                         for layer in model.layers for node in getattr(layer, "_inbound_nodes", [])
                                         if "training" in getattr(getattr(node, "arguments", None), "kwargs", {}))))
        if reference is not None:
            differ("returned structure (kind, length, next_layer is skip_connection)", record.structure, reference.structure)
            differ("layers applied", dict(sorted(record.layers.items())), dict(sorted(reference.layers.items())))
            differ("output shapes", record.out_shapes, reference.out_shapes)
            # the text says: let Keras choose the mode (Keras 3 overrides a hard-coded training=False, Keras 2 does not)
            differ("layers applied with a fixed training mode", record.fixed_modes, reference.fixed_modes)
            differ("weight shapes", record.weight_shapes, reference.weight_shapes)
            # settings the answer sets to a non-default value are the ones the notebook states
            for i, (mine, theirs) in enumerate(zip(record.initializers, reference.initializers)):
                if theirs[0] != "GlorotUniform":
                    differ(f"kernel initializer of weighted layer {i + 1}", mine[0], theirs[0])
                if theirs[1] != "valid":
                    differ(f"padding of weighted layer {i + 1}", mine[1], theirs[1])
        rng = np.random.default_rng(7)
        x = [rng.normal(size=(setting.batch, *shape)).astype("float32") for shape in
             (setting.shapes or [setting.kwargs["input_size"]])]
        weights = reference.weights if reference is not None else _random_weights(model, rng)
        record.weights = weights
        for name, mode in MODES:
            if name not in setting.modes:
                continue
            model.set_weights(weights)
            _reseed(model)
            y = model(x if len(x) > 1 else x[0], training=mode) if mode is not None else model(x if len(x) > 1 else x[0])
            record.outputs[name] = [np.asarray(t) for t in (y if isinstance(y, (list, tuple)) else [y])]
            if reference is not None:
                for i, (mine, theirs) in enumerate(zip(record.outputs[name], reference.outputs[name])):
                    scale = 1.0 + float(np.max(np.abs(theirs))) if theirs.size else 1.0
                    if mine.shape != theirs.shape or not np.allclose(mine, theirs, rtol=1e-4, atol=1e-5 * scale):
                        gap = float(np.max(np.abs(mine - theirs))) if mine.shape == theirs.shape else "shape"
                        raise Different(f"output {i} differs in {name} mode (max difference {gap})")
        return record

    # ------------------------------------------------------------------------------------------- metric
    def _judge_metric(self, cls: Any) -> Verdict:
        try:
            _metric_public(cls)
        except Exception as exc:
            return Verdict(False, True, f"public: {type(exc).__name__}: {exc}")
        try:
            _metric_hidden(cls)
        except Exception as exc:
            return Verdict(False, False, f"{type(exc).__name__}: {exc}")
        return Verdict(True, False)


def _random_weights(model: Any, rng: np.random.Generator) -> list[np.ndarray]:
    """He-scaled kernels, small biases and offsets, positive scales and variances."""
    out = []
    for w, value in zip(model.weights, model.get_weights()):
        shape, name = value.shape, w.path.rsplit("/", 1)[-1]
        if not np.issubdtype(value.dtype, np.floating):
            out.append(value)
        elif name in ("gamma", "moving_variance"):
            out.append(rng.uniform(0.5, 1.5, shape).astype(value.dtype))
        elif len(shape) >= 2:
            out.append(rng.normal(0, np.sqrt(2 / max(1, int(np.prod(shape[:-1])))), shape).astype(value.dtype))
        else:
            out.append(rng.normal(0, 0.1, shape).astype(value.dtype))
    return out


def _reseed(model: Any) -> None:
    """Every Dropout layer starts from the same random state, so equal layers drop the same units."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        generator = getattr(layer, "seed_generator", None)
        if generator is not None:
            generator.state.assign(np.array([1234, 0], dtype=generator.state.dtype))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise Different(message)


def _metric_public(cls: Any) -> None:
    """What the public cell test_mean_iou does, with the expected values from numpy."""
    import tensorflow as tf

    classes, batches = PUBLIC_METRIC
    batches = [(np.asarray(t), np.asarray(s, dtype="float32")) for t, s in batches]
    metric = cls(num_classes=classes)
    for step, (true, scores) in enumerate(batches):
        metric.update_state(tf.constant(true), tf.constant(scores))
        got = float(metric.result())
        want = _np_mean_iou(np.concatenate([t.reshape(-1) for t, _ in batches[:step + 1]]),
                            np.concatenate([s.reshape(-1, classes) for _, s in batches[:step + 1]]))
        _check(abs(got - want) < 1e-6, f"after batch {step + 1}: mean IoU {got:.5f}, expected {want:.5f}")
    metric.reset_state()
    metric.update_state(tf.constant(batches[0][0]), tf.constant(batches[0][1]))
    _check(abs(float(metric.result()) - _np_mean_iou(*batches[0])) < 1e-6, "after reset_state and batch 1 again")
    _check(metric.name == "mean_iou", f"name {metric.name!r}")
    clone = cls.from_config(metric.get_config())
    _check(clone.name == "mean_iou" and getattr(clone, "num_classes", None) == classes, "config round trip")
    _saves(cls)


def _saves(cls: Any) -> None:
    """A model compiled with the metric saves and loads back without custom_objects (it is registered)."""
    import keras

    inp = keras.Input((4, 4, 3))
    tiny = keras.Model(inp, keras.layers.Conv2D(3, 1)(inp))
    tiny.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[cls(num_classes=3)])
    with tempfile.TemporaryDirectory() as tmp:
        tiny.save(os.path.join(tmp, "tiny.keras"))
        keras.models.load_model(os.path.join(tmp, "tiny.keras"))


def _metric_hidden(cls: Any) -> None:
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(11)
    classes = 13
    metric = cls(classes)
    seen_true, seen_scores = [], []
    for step, cast in enumerate([tf.constant, np.asarray, lambda a: tf.constant(a, tf.float32)]):
        true = rng.integers(0, classes - 2, size=(2, 16, 16, 1))  # classes 11 and 12 never in the truth
        scores = rng.normal(size=(2, 16, 16, classes)).astype("float32")
        scores[..., classes - 1] = -10.0  # class 12 never predicted either
        scores[0, 0, step, classes - 2] = 10.0  # class 11 predicted, though absent from the truth
        metric.update_state(cast(true), tf.constant(scores))
        seen_true.append(true)
        seen_scores.append(scores)
        want = _np_mean_iou(np.concatenate(seen_true), np.concatenate(seen_scores))
        _check(abs(float(metric.result()) - want) < 1e-5,
               f"streamed batch {step + 1}: mean IoU {float(metric.result()):.5f}, expected {want:.5f}")
    metric.reset_state()
    metric.update_state(seen_true[0], seen_scores[0])
    want = _np_mean_iou(seen_true[0], seen_scores[0])
    _check(abs(float(metric.result()) - want) < 1e-5, "reset_state does not start afresh")
    for shape, n in [((2, 5, 7), 4), ((6,), 3)]:  # labels without the trailing axis; 1-D scores
        metric = cls(n)
        true = rng.integers(0, n, size=shape)
        scores = rng.normal(size=(*shape, n)).astype("float32")
        metric.update_state(tf.constant(true), tf.constant(scores))
        _check(abs(float(metric.result()) - _np_mean_iou(true, scores)) < 1e-5, f"labels of shape {shape}")
    clone = cls.from_config(cls(5).get_config())
    _check(clone.num_classes == 5 and clone.name == "mean_iou", "config round trip")
    # graph mode, as in model.fit: a compiled evaluate over two batches
    keras.utils.set_random_seed(3)
    inp = keras.Input((4, 4, 3))
    tiny = keras.Model(inp, keras.layers.Conv2D(3, 1)(inp))
    tiny.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[cls(3)])
    x = rng.normal(size=(4, 4, 4, 3)).astype("float32")
    y = rng.integers(0, 3, size=(4, 4, 4, 1))
    result = tiny.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    want = _np_mean_iou(y, tiny.predict(x, verbose=0))
    _check("mean_iou" in result and abs(result["mean_iou"] - want) < 1e-5, f"compiled evaluate: {result}")
