"""Finding, making, downloading and normalising the CARLA-style segmentation data of the course kit.

A dataset is a folder with ``CameraRGB/*.png`` (camera frames) and ``CameraMask/*.png`` (class id 0-12 in
the red channel) holding the same file names, plus ``manifest.json``. Command line: ``python -m data_fetch``.
"""
from __future__ import annotations

from .errors import DataFetchError, PairingError
from .labels import CLASS_NAMES, N_CLASSES
from .layout import DATA_ENV, MASK_DIR, RGB_DIR, dataset_dir, is_dataset, list_pairs

__all__ = [
    "CLASS_NAMES", "DATA_ENV", "DataFetchError", "MASK_DIR", "N_CLASSES", "PairingError", "RGB_DIR",
    "dataset_dir", "is_dataset", "list_pairs",
]
