"""Input-pipeline efficiency of the unet_variants notebook.

Trains the same small U-Net for the same number of steps twice, side by side in one process:
(a) fed by the notebook's own ``tf.data`` pipeline (its cells are executed from the source notebook, so the
benchmark measures exactly what students run), and (b) fed from the same batches already in memory.
The ratio of steps per second, (a)/(b), is the pipeline's efficiency: 1.0 means the model never waits for data.
Goal: at least 0.95. Rounds alternate between (a) and (b) so machine noise hits both alike.

    .venv/bin/python benchmarks/bench_pipeline.py [--steps 20] [--rounds 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source/unet_variants/Unet_Variants.ipynb"


def notebook_namespace() -> dict:
    """Run the notebook's setup and data cells (not the exercises) and return their namespace."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    wanted = {"setup_imports", "setup_constants", "pipeline"}
    namespace: dict = {}
    os.environ.setdefault("UNET_QUICK_RUN", "")  # full-size settings, not the grader's quick run
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in wanted:
            exec(compile(cell.source, f"<{NOTEBOOK.name}:{cell.metadata.nbgrader.grade_id}>", "exec"), namespace)
    return namespace


def small_unet(tf, size: tuple[int, int], classes: int):
    """A two-level U-Net: enough compute per step to be realistic, small enough for a quick benchmark."""
    L = tf.keras.layers
    inputs = L.Input((*size, 3))
    c1 = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    c2 = L.Conv2D(16, 3, padding="same", activation="relu")(L.MaxPooling2D(2)(c1))
    up = L.Conv2DTranspose(8, 3, strides=2, padding="same")(c2)
    x = L.Conv2D(8, 3, padding="same", activation="relu")(L.Concatenate()([up, c1]))
    model = tf.keras.Model(inputs, L.Conv2D(classes, 1)(x))
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps per round and feed")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of (a) and (b)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    ns = notebook_namespace()
    tf = ns["tf"]
    train_ds = ns["train_ds"].repeat()
    # The same batches, decoded once into memory, for the reference feed.
    batches = [(x.numpy(), y.numpy()) for x, y in ns["train_ds"]]
    memory_ds = tf.data.Dataset.from_tensor_slices(
        (tf.concat([b[0] for b in batches], 0), tf.concat([b[1] for b in batches], 0))
    ).batch(ns["BATCH_SIZE"]).cache().repeat()
    model = small_unet(tf, ns["IMG_SIZE"], ns["N_CLASSES"])

    def rate(dataset) -> float:
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0)
        return args.steps / (time.perf_counter() - start)

    rate(train_ds), rate(memory_ds)  # warm-up: tracing, the pipeline's cache filled
    pipeline, memory = [], []
    for _ in range(args.rounds):
        pipeline.append(rate(train_ds))
        memory.append(rate(memory_ds))
    result = {
        "image_size": list(ns["IMG_SIZE"]), "batch_size": ns["BATCH_SIZE"], "steps_per_round": args.steps,
        "rounds": args.rounds,
        "pipeline_steps_per_s": round(statistics.median(pipeline), 3),
        "in_memory_steps_per_s": round(statistics.median(memory), 3),
    }
    result["ratio"] = round(result["pipeline_steps_per_s"] / result["in_memory_steps_per_s"], 3)
    result["goal"] = ">= 0.95"
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
