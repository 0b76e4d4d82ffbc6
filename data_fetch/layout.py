"""Where datasets live and how a dataset folder is laid out: finding it and pairing its files."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import PairingError

RGB_DIR = "CameraRGB"
MASK_DIR = "CameraMask"
MANIFEST = "manifest.json"
DATA_ENV = "UNET_DATA_DIR"
"""Environment variable that names the dataset folder and overrides every default."""

KIT_ROOT = Path(__file__).resolve().parent.parent
"""The course kit's root: the folder that holds the ``data_fetch`` package (installed editable)."""

MAKE_DATA_HINT = (
    "make it with `python -m data_fetch synthetic --frames 240 --dest data/synthetic` (or `make data`) "
    f"in {KIT_ROOT}, or set {DATA_ENV} to a folder holding {RGB_DIR}/ and {MASK_DIR}/"
)


def is_dataset(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds a ``CameraRGB/`` and a ``CameraMask/`` folder."""
    path = Path(directory)
    return (path / RGB_DIR).is_dir() and (path / MASK_DIR).is_dir()


def dataset_dir() -> Path:
    """The folder of the dataset the notebooks use.

    In order: the folder named by the environment variable ``UNET_DATA_DIR``; else ``<kit>/data/carla``
    when it holds a dataset (the real CARLA frames); else ``<kit>/data/synthetic``.

    Raises:
        FileNotFoundError: no dataset is there; the message says which command makes one.
    """
    override = os.environ.get(DATA_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
        if not is_dataset(path):
            raise FileNotFoundError(
                f"{DATA_ENV}={override} but {path} holds no {RGB_DIR}/ and {MASK_DIR}/ folders — "
                f"point {DATA_ENV} at a dataset, or unset it and {MAKE_DATA_HINT}"
            )
        return path
    for candidate in (KIT_ROOT / "data" / "carla", KIT_ROOT / "data" / "synthetic"):
        if is_dataset(candidate):
            return candidate
    raise FileNotFoundError(
        f"no dataset in {KIT_ROOT / 'data' / 'carla'} or {KIT_ROOT / 'data' / 'synthetic'} — {MAKE_DATA_HINT}"
    )


def png_names(folder: str | os.PathLike[str]) -> list[str]:
    """The sorted names of the ``.png`` files directly inside ``folder`` (hidden files skipped)."""
    with os.scandir(folder) as entries:
        return sorted(
            entry.name
            for entry in entries
            if entry.name.lower().endswith(".png") and not entry.name.startswith(".") and entry.is_file()
        )


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def match_names(images: list[str], masks: list[str], image_dir: str, mask_dir: str) -> list[str]:
    """The file names present in both lists, sorted; raises PairingError naming any file without a partner."""
    image_set, mask_set = set(images), set(masks)
    lonely_images = sorted(image_set - mask_set)
    lonely_masks = sorted(mask_set - image_set)
    problems = []
    if lonely_images:
        problems.append(f"{len(lonely_images)} image(s) in {image_dir} have no mask: {_few(lonely_images)}")
    if lonely_masks:
        problems.append(f"{len(lonely_masks)} mask(s) in {mask_dir} have no image: {_few(lonely_masks)}")
    if problems:
        raise PairingError(
            "; ".join(problems),
            "every frame needs an image and a mask with the same file name; add or remove the files named",
        )
    return sorted(image_set)


def list_pairs(directory: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """Image paths and mask paths of a dataset, sorted and paired by file name.

    ``directory`` holds ``CameraRGB/`` and ``CameraMask/``; the i-th image and the i-th mask returned
    have the same file name. Paths are strings (ready for ``tf.data``).

    Raises:
        FileNotFoundError: a folder is missing, or it holds no PNG files.
        PairingError (a ValueError): an image has no mask or a mask has no image; the message names them.
    """
    root = Path(directory)
    folders = [root / RGB_DIR, root / MASK_DIR]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not a folder — {MAKE_DATA_HINT}")
    images, masks = (png_names(folder) for folder in folders)
    names = match_names(images, masks, str(folders[0]), str(folders[1]))
    if not names:
        raise FileNotFoundError(f"{folders[0]} holds no PNG files — {MAKE_DATA_HINT}")
    return [str(folders[0] / n) for n in names], [str(folders[1] / n) for n in names]
