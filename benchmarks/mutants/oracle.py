"""An oracle independent of the notebooks' checks: does a mutant change what the notebook asks for?

The reference is the notebook's own solution: the imports of its setup cells and every solution cell run in a
namespace of their own (read with :mod:`autograder.course.exercise_book`, as the grader's references are), and
a mutant runs in a fresh copy of it with its own cell in place of the solution. A ``model`` exercise is thus
built from the known-good reference blocks its ``stand_ins`` name. The settings are the exercise's declared
cases, called as its check calls them (public and hidden), plus the extremes of its grading-time ``challenge``
ranges.

Layers (``block`` and ``model``): the reference and the mutant are built side by side at every setting. The
oracle compares what the notebook text states and behaviour shows: the returned structure (which tensor is
which, and whether two returned tensors are one), the kinds and numbers of layers applied, output shapes,
weight shapes, the order of every order-sensitive merge layer's inputs (Concatenate, Subtract: the texts state
it; the inputs of Add, Multiply and the other commutative merges count as a set), the kernel initializers and paddings (every layer's, except those the exercise frees in its
``free`` list: the text leaves them open; a 1x1 convolution behaves alike with either padding, but the text
states one), and the outputs on random inputs with the reference's random weights copied into the mutant, in
inference mode, with no mode given (``model(x)``: where a hard-coded ``training=`` shows) and in training mode
(Dropout layers reseeded alike before every call); and no layer may be applied with a hard-coded
``training=``, which the texts forbid (Keras 3 overrides ``training=False``, so behaviour cannot show it).

Metrics: the reference class and the mutant stream the same batches of every case (values after each batch,
after ``reset_state``, the name, the config round trip), then labels of other types, a compiled ``evaluate``
(graph mode) and loading a saved model without custom objects.

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

from benchmarks.mutants.generate import REPO, Mutant, book  # noqa: E402

MODES = (("inference", False), ("default", None), ("training", True))
KIT_PACKAGES = ("data_fetch", "test_utils")  # the kit's own imports: the references run without them
BIG_BATCH, BIG_MODES = 200_000, 5_000_000  # a setting's size (pixels x widest setting) above which it runs lighter


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
    shapes: tuple[tuple[int, ...], ...] = ()  # one Input per shape (blocks); a model's input_size
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    batch: int = 2
    modes: tuple[str, ...] = ("inference", "default", "training")
    case: dict = field(default_factory=dict)  # a metric's case


class Different(Exception):
    """The mutant differs from the reference; the message says where."""


@dataclass
class Record:
    structure: tuple
    layers: Counter
    out_shapes: list
    weight_shapes: list
    weight_paths: list  # "conv2d_1/kernel": layers are named in the order they are made, alike in both models
    initializers: list  # (name, class, produces an output, kernel initializer, padding) of layers with either,
    #                     by layer name (the order of model.layers follows the graph: a swapped Add changes it)
    fixed_modes: str  # layers applied with a training= argument (Keras itself records Dropout's default)
    weights: list[np.ndarray] = field(default_factory=list)  # the random weights both models run with
    outputs: dict[str, list[np.ndarray]] = field(default_factory=dict)  # mode -> outputs
    merges: list = field(default_factory=list)  # (merge class, its inputs in order, each by what produced it)


#: Layers that join tensors. The order of a concatenation's or a difference's inputs changes the result and the
#: texts state it ([up, skip]); a sum, product, mean, maximum or minimum has no order (the texts say either order
#: is right), so their inputs count as a set.
MERGES = frozenset({"Add", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Concatenate"})
COMMUTATIVE = frozenset({"Add", "Multiply", "Average", "Maximum", "Minimum"})


def _merge_inputs(model: Any) -> list:
    """Each merge layer's inputs, in order, named by their producer (class, weight shapes) and their shape."""
    found = []
    for layer in model.layers:
        if type(layer).__name__ not in MERGES:
            continue
        for node in getattr(layer, "_inbound_nodes", []):
            inputs = []
            for tensor in getattr(node, "input_tensors", []):
                producer = getattr(tensor, "_keras_history", [None])[0]
                inputs.append((type(producer).__name__, tuple(tuple(w.shape) for w in getattr(producer, "weights", [])),
                               tuple(tensor.shape)))
            name = type(layer).__name__
            found.append((name, tuple(sorted(inputs, key=repr)) if name in COMMUTATIVE else tuple(inputs)))
    return sorted(found, key=repr)


# --------------------------------------------------------------------------------------------- the settings
def _plain(value: Any) -> Any:
    return tuple(_plain(v) for v in value) if isinstance(value, list) else value


def _call_text(function: str, shapes: list, kwargs: dict) -> str:
    args = [f"Input({tuple(s)})" for s in shapes] + [f"{k}={_plain(v)!r}" for k, v in kwargs.items()]
    return f"{function}({', '.join(args)})"


def _lightened(label: str, public: bool, shapes: list, kwargs: dict) -> Setting:
    """A setting with a batch and modes that keep wide layers at big sizes affordable (one image; the default
    mode equals inference unless a training= is hard-coded, which the default mode shows)."""
    widest = max([int(v) for v in kwargs.values() if isinstance(v, int) and not isinstance(v, bool)]
                 + [int(s[-1]) for s in shapes] + [1])
    size = max(int(s[0]) * int(s[1]) for s in shapes) * widest
    modes = ("default", "training") if size > BIG_MODES else ("inference", "default", "training")
    return Setting(label, public, tuple(tuple(int(d) for d in s) for s in shapes), (),
                   {k: _plain(v) for k, v in kwargs.items()}, 1 if size > BIG_BATCH else 2, modes)


def _extreme(value: Any, high: bool) -> Any:
    """A challenge range's end: ``[lo, hi)`` ints, ``[lo, hi]`` floats, ``[false, true]``, or a constant."""
    if isinstance(value, list) and len(value) == 2:
        lo, hi = value
        if isinstance(lo, bool):
            return bool(high)
        if isinstance(lo, int) and isinstance(hi, int):
            return hi - 1 if high else lo
        return float(hi if high else lo)
    return value


def settings(entry: Any) -> list[Setting]:
    """The settings a layer exercise is judged at: its public and hidden cases, then its challenge's extremes."""
    meta, function = entry.meta, entry.function
    out = []
    for part in ("public", "hidden"):
        for number, case in enumerate(meta[part], start=1):
            kwargs = dict(case.get("kwargs", {}))
            if meta["kind"] == "model":
                shapes = [kwargs["input_size"]] if "input_size" in kwargs else []
                label = f"{part} case {number}: {function}({', '.join(f'{k}={_plain(v)!r}' for k, v in kwargs.items())})"
            else:
                shapes = case["inputs"]
                label = f"{part} case {number}: {_call_text(function, shapes, kwargs)}"
            out.append(_lightened(label, part == "public", shapes, kwargs))
    challenge = meta.get("challenge", {})
    first = meta["public"][0]
    for high in (False, True):  # what the grading-time challenge may draw, at both ends of its ranges
        kwargs = {k: (3 if isinstance(v, int) and not isinstance(v, bool) and v > 64 else v)
                  for k, v in first.get("kwargs", {}).items()}
        kwargs.update({k: _extreme(v, high) for k, v in challenge.items()})
        if meta["kind"] == "model":
            kwargs["input_size"] = [32, 32, 3] if high else [16, 16, 1]
            shapes = [kwargs["input_size"]]
            label = f"challenge ({'high' if high else 'low'}): {function}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        else:
            n = len(first["inputs"])
            lo, hi = meta.get("channels") or ((1, 5) if n == 1 else (1, 6))
            height, width = (10, 8) if high else (4, 6)
            channels = hi - 1 if high else lo
            shapes = [[height // 2, width // 2, channels]] * (n - 1) + [[height, width, channels]]
            label = f"challenge ({'high' if high else 'low'}): {_call_text(function, shapes, kwargs)}"
        out.append(_lightened(label, False, shapes, kwargs))
    return out


def metric_settings(entry: Any) -> list[Setting]:
    """A metric's cases: public, hidden, and a small and a large one as the grading-time challenge may draw."""
    out = [Setting(f"{part} case {number}: {case['classes']} classes", part == "public", case=case)
           for part in ("public", "hidden") for number, case in enumerate(entry.meta[part], start=1)]
    out += [Setting("challenge (low): 3 classes", False,
                    case={"classes": 3, "shape": [1, 3, 3], "batches": 2, "seed": 101, "flat_labels": False}),
            Setting("challenge (high): 8 classes, labels without the trailing axis", False,
                    case={"classes": 8, "shape": [3, 8, 8], "batches": 4, "seed": 102, "flat_labels": True})]
    return out


def imports(setup: str) -> str:
    """The import statements of the notebook's setup cells, without the kit's own packages."""
    keep = [n for n in ast.parse(setup).body
            if isinstance(n, ast.Import) and not any(a.name.split(".")[0] in KIT_PACKAGES for a in n.names)
            or isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] not in KIT_PACKAGES]
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


def _unregister(name: str) -> None:
    """Forget a Keras registration of a class called ``name`` (``package>name``), left over from another load."""
    import keras

    objects = keras.saving.get_custom_objects()
    for key in [k for k in objects if k == name or k.endswith(f">{name}")]:
        objects.pop(key, None)


class Oracle:
    """Judges mutants against the notebooks' solutions; reference results are computed once and cached."""

    def __init__(self, repo: Path = REPO) -> None:
        import tensorflow as tf  # (fail early when TensorFlow is missing)

        tf.get_logger().setLevel("ERROR")  # no retracing notices from the metric's compiled evaluate

        self.repo = repo
        self._globals: dict[str, dict[str, Any]] = {}
        self._refs: dict[tuple[str, str, str], Any] = {}

    # ------------------------------------------------------------------------------------------ loading
    def entry(self, assignment: str, exercise: str) -> Any:
        found = [e for e in book(assignment, self.repo).entries if e.name == exercise]
        if not found:
            raise KeyError(f"{assignment} has no exercise {exercise!r}")
        return found[0]

    def settings(self, assignment: str, exercise: str) -> list[Setting]:
        entry = self.entry(assignment, exercise)
        return metric_settings(entry) if entry.meta["kind"] == "metric" else settings(entry)

    def _namespace(self, assignment: str) -> dict[str, Any]:
        if assignment not in self._globals:
            ns: dict[str, Any] = {"__name__": f"oracle_{assignment}"}
            exec(compile(imports(book(assignment, self.repo).setup), f"<imports {assignment}>", "exec"), ns)
            self._globals[assignment] = ns
        return dict(self._globals[assignment])

    def load(self, assignment: str, exercise: str, code: str) -> Any:
        """Run the notebook's other solution cells, then ``code`` in place of ``exercise``'s, in a fresh copy of
        the notebook's imports; return what the exercise's cell defines (the other solutions are the known-good
        references, e.g. the blocks a model is built from)."""
        entry = self.entry(assignment, exercise)
        ns = self._namespace(assignment)
        _unregister(entry.function)  # no registration left over from another load
        for other in book(assignment, self.repo).entries:
            if other.name != exercise:
                exec(compile(other.solution, f"<solution {other.name}>", "exec"), ns)
        if entry.meta["kind"] == "model":
            missing = [name for name in entry.meta.get("stand_ins", {}) if not callable(ns.get(name))]
            if missing:
                raise LookupError(f"no solution cell of {assignment} defines {', '.join(missing)} ({exercise}'s stand_ins)")
        _unregister(entry.function)
        exec(compile(code, f"<answer {exercise}>", "exec"), ns)
        if entry.function not in ns:
            raise NameError(f"the cell defines no {entry.function}")
        return ns[entry.function]

    # ------------------------------------------------------------------------------------------- judging
    def judge(self, mutant: Mutant) -> Verdict:
        return self.judge_code(mutant.assignment, mutant.exercise, mutant.code)

    def judge_code(self, assignment: str, exercise: str, code: str) -> Verdict:
        import keras

        entry = self.entry(assignment, exercise)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.references(assignment, exercise)  # before the mutant: the reference's loading registers it
                try:
                    answer = self.load(assignment, exercise, code)
                except Exception as exc:  # the cell itself fails
                    return Verdict(False, True, f"the cell fails: {type(exc).__name__}: {exc}")
                if entry.meta["kind"] == "metric":
                    return self._judge_metric(assignment, entry, answer)
                for setting in settings(entry):
                    try:
                        self._compare(assignment, entry, answer, setting)
                    except Different as diff:
                        return Verdict(False, setting.public, f"{setting.label}: {diff}")
                return Verdict(True, False)
            finally:
                keras.backend.clear_session(free_memory=False)
                gc.collect()  # once per answer: a collection costs about 0.3 s with TensorFlow loaded

    def references(self, assignment: str, exercise: str) -> dict[str, Any]:
        """The reference's results at every setting (label -> Record, or a metric probe's results), computed once."""
        entry = self.entry(assignment, exercise)
        if entry.meta["kind"] == "metric":
            made = {label: probe for label, _, probe in _metric_probes(entry)}
        else:
            made = {s.label: (lambda fn, s=s: _record(entry, fn, s, None)) for s in settings(entry)}
        for label, make in made.items():
            key = (assignment, exercise, label)
            if key not in self._refs:
                self._refs[key] = make(self.load(assignment, exercise, entry.solution))
        return {label: self._refs[(assignment, exercise, label)] for label in made}

    def _compare(self, assignment: str, entry: Any, fn: Any, setting: Setting) -> None:
        _record(entry, fn, setting, self._refs[(assignment, entry.name, setting.label)])

    # ------------------------------------------------------------------------------------------- metric
    def _judge_metric(self, assignment: str, entry: Any, cls: Any) -> Verdict:
        for label, public, probe in _metric_probes(entry):
            want = self._refs[(assignment, entry.name, label)]
            try:
                got = probe(cls)
            except Exception as exc:
                got = {"error": f"{type(exc).__name__}: {exc}"}
            problem = _metric_difference(got, want)
            if problem:
                return Verdict(False, public, f"{label}: {problem}")
        return Verdict(True, False)


# ------------------------------------------------------------------------------------------------- layers
def _record(entry: Any, fn: Any, setting: Setting, reference: Record | None) -> Record:
    """Build ``fn`` at ``setting``; with a reference, raise Different at the first difference."""
    import keras

    keras.backend.clear_session(free_memory=False)  # forget the layer counters; the collection waits for the answer's end

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
        if entry.meta["kind"] == "model":
            kwargs = {k: tuple(v) if k == "input_size" else v for k, v in setting.kwargs.items()}
            model = fn(*setting.args, **kwargs)
            if not isinstance(model, keras.Model):
                raise Different(f"returns a {type(model).__name__}, not a keras Model")
            structure: tuple = ("model", len(model.inputs), len(model.outputs))
        else:
            inputs = [keras.Input(shape) for shape in setting.shapes]
            out = fn(*inputs, *setting.args, **setting.kwargs)
            if isinstance(out, (tuple, list)):
                structure = ("sequence", len(out), tuple(any(o is p for p in out[:i]) for i, o in enumerate(out)))
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
    outputs = {id(getattr(t, "_keras_history", [None])[0]) for t in model.outputs}
    layers = Counter(type(layer).__name__ for layer in model.layers if type(layer).__name__ != "InputLayer")
    record = Record(structure, layers, [tuple(t.shape) for t in model.outputs],
                    [tuple(w.shape) for w in model.weights], [w.path for w in model.weights],
                    sorted((layer.name, type(layer).__name__, id(layer) in outputs,
                            type(layer.kernel_initializer).__name__
                            if getattr(layer, "kernel_initializer", None) is not None else None,
                            getattr(layer, "padding", None))
                           for layer in model.layers
                           if getattr(layer, "kernel_initializer", None) is not None or hasattr(layer, "padding")),
                    ", ".join(sorted(f"{type(layer).__name__}(training={node.arguments.kwargs['training']})"
                                     for layer in model.layers for node in getattr(layer, "_inbound_nodes", [])
                                     if "training" in getattr(getattr(node, "arguments", None), "kwargs", {}))))
    record.merges = _merge_inputs(model)
    if reference is not None:
        differ("returned structure (kind, length, which returned tensors repeat an earlier one)",
               record.structure, reference.structure)
        differ("layers applied", dict(sorted(record.layers.items())), dict(sorted(reference.layers.items())))
        differ("the order of a merge layer's inputs", record.merges, reference.merges)
        differ("output shapes", record.out_shapes, reference.out_shapes)
        # the texts say: let Keras choose the mode (Keras 3 overrides a hard-coded training=False, Keras 2 does not)
        differ("layers applied with a fixed training mode", record.fixed_modes, reference.fixed_modes)
        same_names = sorted(record.weight_paths) == sorted(reference.weight_paths)
        if same_names:  # the same layers, made in the same order: compare (and later copy) weights by name
            shapes = dict(zip(record.weight_paths, record.weight_shapes))
            differ("weight shapes", [(p, shapes[p]) for p in reference.weight_paths],
                   list(zip(reference.weight_paths, reference.weight_shapes)))
        else:
            differ("weight shapes", record.weight_shapes, reference.weight_shapes)
        free = {(str(a), str(b)) for a, b in entry.meta.get("free", [])}
        for i, (mine, theirs) in enumerate(zip(record.initializers, reference.initializers)):
            for position, key in ((3, "kernel_initializer"), (4, "padding")):
                if {(theirs[1], key), ("*", key)} & free or theirs[2] and ("output", key) in free:
                    continue  # the exercise leaves this setting open
                differ(f"{key} of layer {theirs[0]} ({theirs[1]})", mine[position], theirs[position])
    rng = np.random.default_rng(7)
    x = [rng.normal(size=(setting.batch, *shape)).astype("float32") for shape in setting.shapes]
    if reference is None:
        weights = _random_weights(model, rng)
    elif same_names:
        by_name = dict(zip(reference.weight_paths, reference.weights))
        weights = [by_name[p] for p in record.weight_paths]
    else:
        weights = reference.weights
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


# ------------------------------------------------------------------------------------------------- metrics
def metric_batches(case: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (true ids, scores) batches of a metric case, literal or generated as the exercise format says
    (per batch: ids below ``classes - 2``, normal scores, class ``classes - 2`` never predicted)."""
    if isinstance(case.get("batches"), list):
        return [(np.asarray(t), np.asarray(s, dtype="float32")) for t, s in case["batches"]]
    rng = np.random.default_rng(int(case["seed"]))
    classes, shape = int(case["classes"]), [int(d) for d in case["shape"]]
    out = []
    for _ in range(int(case["batches"])):
        true = rng.integers(0, max(1, classes - 2), size=shape)
        scores = rng.normal(size=(*shape, classes)).astype("float32")
        scores[..., classes - 2] = -10.0
        out.append((true if case.get("flat_labels") else true[..., None], scores))
    return out


def _metric_probes(entry: Any) -> list[tuple[str, bool, Any]]:
    """(label, public, probe) of every way a metric is tried: its cases, then saving, label types, graph mode."""
    probes = [(s.label, s.public, lambda cls, case=s.case: _metric_run(cls, case)) for s in metric_settings(entry)]
    return probes + [("a model compiled with the metric saves and loads back without custom_objects", True, _saves),
                     ("labels as numpy arrays and as float tensors", False, _label_types),
                     ("a compiled evaluate (graph mode)", False, _evaluate)]


def _metric_run(cls: Any, case: dict[str, Any]) -> dict[str, Any]:
    """What the metric does on a case: values while streaming, after a reset, its name, its config round trip."""
    import tensorflow as tf

    classes = int(case["classes"])
    batches = metric_batches(case)
    metric = cls(num_classes=classes)
    values = []
    for true, scores in batches:
        metric.update_state(tf.constant(true), tf.constant(scores))
        values.append(float(metric.result()))
    metric.reset_state()
    metric.update_state(tf.constant(batches[0][0]), tf.constant(batches[0][1]))
    after_reset = float(metric.result())
    clone = cls.from_config(metric.get_config())
    return {"values": values, "after reset_state and batch 1 again": after_reset, "name": str(metric.name),
            "config round trip (name, num_classes)": [str(clone.name), getattr(clone, "num_classes", None)]}


def _label_types(cls: Any) -> dict[str, Any]:
    """Labels as numpy arrays, as int tensors and as float tensors, streamed into one metric."""
    import tensorflow as tf

    batches = metric_batches({"classes": 6, "shape": [2, 6, 6], "batches": 3, "seed": 11})
    metric = cls(6)
    values = []
    for cast, (true, scores) in zip([np.asarray, tf.constant, lambda a: tf.constant(a, tf.float32)], batches):
        metric.update_state(cast(true), tf.constant(scores))
        values.append(float(metric.result()))
    return {"values": values}


def _evaluate(cls: Any) -> dict[str, Any]:
    """A compiled evaluate over two batches (graph mode, as in model.fit)."""
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((4, 4, 3))
    tiny = keras.Model(inp, keras.layers.Conv2D(3, 1)(inp))
    tiny.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[cls(num_classes=3)])
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 4, 4, 3)).astype("float32")
    y = rng.integers(0, 3, size=(4, 4, 4, 1))
    return {"evaluate": tiny.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)}


def _saves(cls: Any) -> dict[str, Any]:
    """A model compiled with the metric saves and loads back without custom_objects (it is registered)."""
    import keras

    inp = keras.Input((4, 4, 3))
    tiny = keras.Model(inp, keras.layers.Conv2D(3, 1)(inp))
    tiny.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[cls(num_classes=3)])
    with tempfile.TemporaryDirectory() as tmp:
        tiny.save(os.path.join(tmp, "tiny.keras"))
        keras.models.load_model(os.path.join(tmp, "tiny.keras"))
    return {"saved and loaded": True}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        try:
            x, y = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return (np.isnan(x) and np.isnan(y)) or abs(x - y) <= 1e-5 * max(1.0, abs(y))
    return a == b


def _metric_difference(got: dict[str, Any], want: dict[str, Any]) -> str | None:
    """The first difference between the mutant's and the reference's results of one probe, or None."""
    if "error" in got:
        return got["error"]
    for key, value in want.items():
        if key not in got or not _same(got[key], value):
            return f"{key}: {got.get(key)!r} instead of {value!r}"
    return None

