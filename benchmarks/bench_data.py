"""Benchmark: vectorised, parallel `normalize` against a per-pixel Python loop on the same CARLA-layout frames.

    .venv/bin/python benchmarks/bench_data.py [--frames N] [--slow-frames K] [--workers W] [--json PATH]

Frames are made synthetically at 800x600 in the Kaggle layout (dataA/dataA/CameraRGB + CameraSeg, the class
id repeated in all three channels of the mask). Both paths read the PNGs and write the normalised PNGs.
Start-up cost (interpreter, imports, process pool) is removed from the fast path by timing two runs,
on N and on a few frames, and dividing the difference by the difference in frames. The slow path has no
start-up cost and runs on only K frames. Prints a table and writes JSON (default: bench_data.json here).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_fetch import normalize  # noqa: E402
from data_fetch.convert import check_ids, mask_ids  # noqa: E402
from data_fetch.parallel import default_workers  # noqa: E402
from data_fetch.pngio import mask_png  # noqa: E402
from data_fetch.scenes import render_scene  # noqa: E402

WIDTH, HEIGHT = 800, 600


def make_source(root: Path, frames: int) -> list[tuple[Path, Path]]:
    """Write ``frames`` pairs in the Kaggle layout under ``root``; returns (image, mask) paths."""
    folder = root / "dataA" / "dataA"
    (folder / "CameraRGB").mkdir(parents=True)
    (folder / "CameraSeg").mkdir()
    pairs = []
    for index in range(frames):
        image, ids = render_scene(42, index, WIDTH, HEIGHT)
        name = f"02_00_{index:03d}.png"
        Image.fromarray(image).save(folder / "CameraRGB" / name)
        Image.fromarray(np.repeat(ids[..., None], 3, axis=-1)).save(folder / "CameraSeg" / name)
        pairs.append((folder / "CameraRGB" / name, folder / "CameraSeg" / name))
    return pairs


def subset(pairs: list[tuple[Path, Path]], count: int, root: Path) -> None:
    folder = root / "dataA" / "dataA"
    (folder / "CameraRGB").mkdir(parents=True)
    (folder / "CameraSeg").mkdir()
    for image, mask in pairs[:count]:
        shutil.copyfile(image, folder / "CameraRGB" / image.name)
        shutil.copyfile(mask, folder / "CameraSeg" / mask.name)


def per_pixel_ids(mask: np.ndarray) -> np.ndarray:
    """The slow way: visit every pixel in Python and keep the largest of its channel values."""
    height, width = mask.shape[:2]
    out = np.zeros((height, width), dtype=np.uint8)
    for row in range(height):
        for col in range(width):
            out[row, col] = max(mask[row, col])
    return out


def slow_path(pairs: list[tuple[Path, Path]], out: Path) -> float:
    """Seconds per frame for read, per-pixel conversion and write, one frame after another."""
    (out / "CameraRGB").mkdir(parents=True)
    (out / "CameraMask").mkdir()
    start = time.perf_counter()
    for image_path, mask_path in pairs:
        image = Image.open(image_path)
        image.load()
        shutil.copyfile(image_path, out / "CameraRGB" / image_path.name)
        ids = per_pixel_ids(np.asarray(Image.open(mask_path)))
        (out / "CameraMask" / mask_path.name).write_bytes(mask_png(ids))
    return (time.perf_counter() - start) / len(pairs)


def fast_run(source: Path, dest: Path, workers: int) -> float:
    start = time.perf_counter()
    normalize.run(source=source, dest=dest, workers=workers)
    return time.perf_counter() - start


def fast_per_frame(big: Path, small: Path, n_big: int, n_small: int, work: Path, workers: int) -> float:
    """Marginal seconds per frame of `normalize` (start-up cost cancels out in the difference)."""
    t_small = fast_run(small, work / f"small-{workers}", workers)
    t_big = fast_run(big, work / f"big-{workers}", workers)
    return max(t_big - t_small, 1e-9) / (n_big - n_small)


def conversion_only(mask_path: Path, repeats: int = 20) -> tuple[float, float]:
    """Seconds for turning one decoded 800x600 mask into ids: (per-pixel loop, vectorised incl. range check).

    The vectorised time is the best of ``repeats`` runs (the machine is shared; the best run is the one
    least disturbed by other work)."""
    mask = np.asarray(Image.open(mask_path))
    start = time.perf_counter()
    slow = per_pixel_ids(mask)
    t_slow = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fast = mask_ids(mask)
        check_ids(fast, mask_path.name)
        rgb = np.zeros(fast.shape + (3,), np.uint8)
        rgb[..., 0] = fast
        times.append(time.perf_counter() - start)
    assert np.array_equal(slow, fast), "the two conversions disagree"
    return t_slow, min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48, help="frames for the fast path (default 48)")
    parser.add_argument("--slow-frames", type=int, default=3, help="frames for the per-pixel path (default 3)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="processes (default: all cores)")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_data.json"))
    args = parser.parse_args()
    n_small = max(2, args.workers)
    if args.frames <= n_small:
        parser.error(f"--frames must be more than {n_small}")

    with tempfile.TemporaryDirectory(prefix="bench_data-") as scratch:
        work = Path(scratch)
        print(f"making {args.frames} frames at {WIDTH}x{HEIGHT} in the Kaggle layout ...", file=sys.stderr)
        pairs = make_source(work / "big", args.frames)
        subset(pairs, n_small, work / "small")
        slow = slow_path(pairs[: args.slow_frames], work / "slow")
        one = fast_per_frame(work / "big", work / "small", args.frames, n_small, work, 1)
        many = fast_per_frame(work / "big", work / "small", args.frames, n_small, work, args.workers)
        conv_slow, conv_fast = conversion_only(pairs[0][1])

    result = {
        "machine": {"cpus": os.cpu_count(), "usable_cpus": default_workers(), "python": platform.python_version(),
                    "numpy": np.__version__},
        "frames": args.frames, "slow_frames": args.slow_frames, "workers": args.workers,
        "size": [WIDTH, HEIGHT],
        "slow_s_per_frame": slow,
        "fast_1_worker_s_per_frame": one,
        "fast_s_per_frame": many,
        "speedup_end_to_end": slow / many,
        "speedup_end_to_end_1_worker": slow / one,
        "fast_frames_per_s": 1.0 / many,
        "conversion_slow_s": conv_slow,
        "conversion_fast_s": conv_fast,
        "speedup_conversion": conv_slow / conv_fast,
    }
    rows = [
        ("per-pixel loop (read, convert, write)", f"{slow * 1000:9.1f} ms/frame", ""),
        ("normalize, 1 worker", f"{one * 1000:9.1f} ms/frame", f"{slow / one:7.1f}x"),
        (f"normalize, {args.workers} workers", f"{many * 1000:9.1f} ms/frame", f"{slow / many:7.1f}x"),
        ("mask conversion alone: per-pixel", f"{conv_slow * 1000:9.1f} ms/mask", ""),
        ("mask conversion alone: vectorised", f"{conv_fast * 1000:9.3f} ms/mask", f"{conv_slow / conv_fast:7.0f}x"),
        ("normalize throughput", f"{1 / many:9.1f} frames/s", ""),
    ]
    print(f"{'path':40} {'time':>17} {'speed-up':>9}")
    for name, value, ratio in rows:
        print(f"{name:40} {value:>17} {ratio:>9}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
