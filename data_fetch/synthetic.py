"""The ``synthetic`` command: an offline, deterministic CARLA-like dataset."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import DataFetchError
from .labels import N_CLASSES
from .layout import MASK_DIR, RGB_DIR
from .manifest import FrameRecord, write_manifest
from .parallel import parallel_map
from .pngio import mask_png, plain_png, write_file
from .scenes import render_scene
from .staging import staged_output


def frame_name(index: int) -> str:
    """File name of synthetic frame ``index`` (the same in CameraRGB/ and CameraMask/)."""
    return f"synthetic_{index:05d}.png"


def make_frame(job: tuple[str, int, int, int, int]) -> FrameRecord:
    """Render frame ``index`` and write its image and mask under ``root``; runs in a worker process."""
    root, seed, index, width, height = job
    image, ids = render_scene(seed, index, width, height)
    name = frame_name(index)
    image_sha = write_file(os.path.join(root, RGB_DIR, name), plain_png(image, level=1, up_filter=True))
    mask_sha = write_file(os.path.join(root, MASK_DIR, name), mask_png(ids))
    counts = np.bincount(ids.ravel(), minlength=N_CLASSES)
    return FrameRecord(name, image_sha, mask_sha, width, height, [int(c) for c in counts])


def run(*, frames: int, dest: str | os.PathLike[str], seed: int = 0, force: bool = False,
        width: int = 800, height: int = 600, workers: int | None = None) -> Path:
    """Write ``frames`` synthetic street scenes to ``dest``/CameraRGB and ``dest``/CameraMask.

    The same ``seed`` always gives the same files. ``dest`` appears complete (with its manifest.json)
    or not at all; an existing non-empty ``dest`` is replaced only with ``force``.

    Returns:
        The dataset folder.
    """
    if frames < 1:
        raise DataFetchError(f"--frames must be at least 1, got {frames}", "ask for one frame or more")
    if width < 32 or height < 24:
        raise DataFetchError(f"a {width}x{height} frame is too small", "use at least 32x24 pixels")
    target = Path(dest).absolute()
    with staged_output(target, force=force) as staged:
        (staged / RGB_DIR).mkdir()
        (staged / MASK_DIR).mkdir()
        jobs = [(str(staged), seed, index, width, height) for index in range(frames)]
        records = parallel_map(make_frame, jobs, workers=workers, desc="synthetic frames")
        write_manifest(staged, records, {"command": "synthetic", "seed": seed, "width": width,
                                         "height": height, "frames": frames})
    return target
