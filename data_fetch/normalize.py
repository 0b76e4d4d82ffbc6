"""The ``normalize`` command: an unpacked download becomes one CameraRGB/ + CameraMask/ dataset."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .convert import ConvertJob, convert_pair
from .discover import Display, find_pairs
from .errors import DataFetchError
from .layout import MASK_DIR, RGB_DIR
from .manifest import write_manifest
from .parallel import parallel_map
from .staging import check_destination, staged_output


def normalize_tree(source: Path, dest: Path, *, force: bool, workers: int | None, origin: dict[str, Any],
                   display: Display = str) -> Path:
    """Find, check and convert every pair under ``source`` into the dataset ``dest`` (all or nothing)."""
    pairs = find_pairs(source, display)
    with staged_output(dest, force=force) as staged:
        (staged / RGB_DIR).mkdir()
        (staged / MASK_DIR).mkdir()
        jobs = [ConvertJob(str(p.image), str(p.mask), str(staged), p.name, display(p.image), display(p.mask))
                for p in pairs]
        records = parallel_map(convert_pair, jobs, workers=workers, desc="normalising pairs", unit="pair")
        write_manifest(staged, records, origin)
    return Path(dest).absolute()


def run(*, source: str | os.PathLike[str], dest: str | os.PathLike[str], force: bool = False,
        workers: int | None = None) -> Path:
    """Normalise the unpacked download ``source`` into ``dest``.

    ``source`` may hold ``dataA/``..``dataE/`` (nested or not), ``CameraSeg/`` or ``CameraMask/`` folders, and
    masks with the id in the red channel or in every channel. Pairs are matched by file name; frames from
    different folders get the folder name as a prefix. Every pair is checked (same size, ids 0-12).

    Returns:
        The dataset folder.
    """
    src = Path(source).expanduser().absolute()
    target = Path(dest).expanduser().absolute()
    if not src.is_dir():
        raise DataFetchError(f"{src} is not a folder", "pass the folder you unpacked the download into")
    if target == src or src.is_relative_to(target):
        raise DataFetchError(f"--dest {target} would overwrite the source {src}", "choose a --dest outside SRC")
    check_destination(target, force)
    return normalize_tree(src, target, force=force, workers=workers,
                          origin={"command": "normalize", "source": str(src)})
