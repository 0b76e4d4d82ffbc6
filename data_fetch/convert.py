"""Checking and converting one image/mask pair into the dataset's format (vectorised, one pair per call)."""
from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataFetchError
from .labels import MAX_ID, N_CLASSES
from .layout import MASK_DIR, RGB_DIR
from .manifest import FrameRecord
from .pngio import encode_png, mask_png, write_file


@dataclass(frozen=True)
class ConvertJob:
    """Where a pair comes from (and how to name it in messages) and where it goes."""

    image: str
    mask: str
    out_root: str
    name: str
    image_label: str
    mask_label: str


def is_rgb8_png(data: bytes) -> bool:
    """Whether ``data`` is a PNG with 8-bit RGB pixels (IHDR: bit depth 8, colour type 2)."""
    return (len(data) > 33 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
            and data[24] == 8 and data[25] == 2)


def _open(path: str, label: str, decode: bool = True) -> tuple[Image.Image, bytes]:
    """The image at ``path`` and its bytes, checked: for a PNG every chunk's CRC up to IEND (which finds
    truncated and damaged files cheaply). With ``decode`` (or when the image is not an 8-bit RGB PNG) the
    pixels are decoded as well; otherwise only the header is read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        image = Image.open(io.BytesIO(data))
        if image.format == "PNG":
            image.verify()
            image = Image.open(io.BytesIO(data))
        if decode or not is_rgb8_png(data):
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as error:
        raise DataFetchError(f"{label} is not a readable image ({error})",
                             "the file is damaged or truncated; download the dataset again") from error
    return image, data


def mask_ids(mask: np.ndarray) -> np.ndarray:
    """Class ids from a decoded mask: the red channel of an RGB(A) mask (whether or not G and B repeat the id),
    or the values of a one-channel mask."""
    return mask[..., 0] if mask.ndim == 3 else mask


def check_ids(ids: np.ndarray, label: str) -> None:
    """Raise DataFetchError naming the mask if any id is outside 0-12."""
    top = int(ids.max()) if ids.size else 0
    if top > MAX_ID or (ids.size and int(ids.min()) < 0):
        bad = int(np.count_nonzero((ids > MAX_ID) | (ids < 0)))
        raise DataFetchError(f"mask {label} has class id {top} at {bad} pixel(s); ids must be 0-{MAX_ID}",
                             "this is not a CARLA mask; check that the download is the CARLA dataset")


def convert_pair(job: ConvertJob) -> FrameRecord:
    """Check one pair and write it under ``job.out_root``; runs in a worker process.

    The image is copied byte for byte when it already is an 8-bit RGB PNG, else re-encoded as one. The mask is
    rewritten with the class id in the red channel and zeros in green and blue.
    """
    image, image_bytes = _open(job.image, job.image_label, decode=False)
    mask, _ = _open(job.mask, job.mask_label)
    if image.size != mask.size:
        raise DataFetchError(
            f"mask {job.mask_label} is {mask.size[0]}x{mask.size[1]} but its image {job.image_label} is "
            f"{image.size[0]}x{image.size[1]}", "image and mask of a frame must have the same size; fix or remove the pair")
    ids = mask_ids(np.asarray(mask))
    check_ids(ids, job.mask_label)
    if is_rgb8_png(image_bytes):
        data = image_bytes
    else:
        data = encode_png(np.asarray(image.convert("RGB")))
    image_sha = write_file(os.path.join(job.out_root, RGB_DIR, job.name), data)
    mask_sha = write_file(os.path.join(job.out_root, MASK_DIR, job.name), mask_png(ids.astype(np.uint8)))
    counts = np.bincount(ids.ravel().astype(np.intp, copy=False), minlength=N_CLASSES)
    return FrameRecord(job.name, image_sha, mask_sha, image.size[0], image.size[1], [int(c) for c in counts])

