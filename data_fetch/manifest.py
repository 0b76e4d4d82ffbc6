"""The manifest written last into every dataset: the pairs, their checksums and a digest of them all."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .labels import CLASS_NAMES, N_CLASSES
from .layout import MANIFEST, MASK_DIR, RGB_DIR
from .pngio import write_file

FORMAT = "unet-course-kit/carla-pairs/1"


@dataclass
class FrameRecord:
    """One written pair: its file name, both files' SHA-256, the frame size and pixels per class."""

    name: str
    image_sha256: str
    mask_sha256: str
    width: int
    height: int
    class_pixels: list[int] = field(default_factory=lambda: [0] * N_CLASSES)


def dataset_digest(records: list[FrameRecord]) -> str:
    """SHA-256 over every pair's name and checksums, in name order: one value for the whole dataset."""
    digest = hashlib.sha256()
    for record in sorted(records, key=lambda r: r.name):
        digest.update(f"{record.name}\t{record.image_sha256}\t{record.mask_sha256}\n".encode())
    return digest.hexdigest()


def write_manifest(root: Path, records: list[FrameRecord], source: dict[str, Any]) -> Path:
    """Write ``root/manifest.json`` describing ``records``; call it after every PNG is written."""
    records = sorted(records, key=lambda r: r.name)
    sizes = sorted({(r.width, r.height) for r in records})
    totals = [sum(r.class_pixels[k] for r in records) for k in range(N_CLASSES)]
    document = {
        "format": FORMAT,
        "source": source,
        "frames": len(records),
        "sizes": [list(size) for size in sizes],
        "classes": list(CLASS_NAMES),
        "class_pixels": totals,
        "sha256": dataset_digest(records),
        "pairs": [
            {"image": f"{RGB_DIR}/{r.name}", "mask": f"{MASK_DIR}/{r.name}",
             "image_sha256": r.image_sha256, "mask_sha256": r.mask_sha256}
            for r in records
        ],
    }
    path = root / MANIFEST
    write_file(path, (json.dumps(document, indent=1) + "\n").encode())
    return path
