"""Finding image/mask pairs in an unpacked download, whatever its folder layout."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import DataFetchError
from .layout import MASK_DIR, RGB_DIR, match_names, png_names

MASK_FOLDERS = (MASK_DIR, "CameraSeg")
"""Names a mask folder may have beside CameraRGB/, in order of preference."""

SKIPPED = {"__MACOSX"}

Display = Callable[[Path], str]


class NoImagesError(DataFetchError):
    """The source holds no CameraRGB/ folder, or only empty ones."""


@dataclass(frozen=True)
class Part:
    """One CameraRGB/ folder, its mask folder, and the prefix that keeps its file names unique."""

    image_dir: Path
    mask_dir: Path
    prefix: str


@dataclass(frozen=True)
class SourcePair:
    """One image and its mask in the source, and the name the pair gets in the normalised dataset."""

    image: Path
    mask: Path
    name: str


def _child(parent: Path, children: list[str], wanted: str) -> Path | None:
    for name in children:
        if name.lower() == wanted.lower():
            return parent / name
    return None


def _prefix(relative: Path) -> str:
    """``dataA/dataA`` becomes ``dataA``; nested folders join with ``_``; the top folder gives ``""``."""
    parts: list[str] = []
    for part in relative.parts:
        if part not in (".", "") and (not parts or parts[-1] != part):
            parts.append(part)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts))


def find_parts(source: Path, display: Display = str) -> list[Part]:
    """Every CameraRGB/ under ``source`` with its CameraMask/ (or CameraSeg/) sibling, in path order."""
    found: list[tuple[Path, Path, Path]] = []
    for folder, subfolders, _files in os.walk(source):
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED and not d.startswith("."))
        here = Path(folder)
        images = _child(here, subfolders, RGB_DIR)
        if images is None:
            continue
        masks = next((m for m in (_child(here, subfolders, name) for name in MASK_FOLDERS) if m), None)
        if masks is None:
            raise DataFetchError(f"{display(images)} has no CameraSeg/ or CameraMask/ folder beside it",
                                 "the masks are missing from the download; get the complete dataset")
        found.append((here.relative_to(source), images, masks))
        subfolders[:] = [d for d in subfolders if here / d not in (images, masks)]
    if not found:
        raise NoImagesError(f"no CameraRGB/ folder anywhere in {display(source)}",
                            "this is not a CARLA download; it should hold CameraRGB/ and CameraSeg/ folders")
    # Folders that every part shares (a wrapper folder of the archive) add nothing to the names.
    common = Path(os.path.commonpath([str(rel) for rel, _, _ in found]))
    return [Part(images, masks, _prefix(rel.relative_to(common))) for rel, images, masks in found]


def find_pairs(source: Path, display: Display = str) -> list[SourcePair]:
    """All pairs under ``source``, matched by file name within each part and named uniquely.

    Raises DataFetchError naming the files when an image has no mask (or the reverse), when a part holds no
    PNG files, or when two parts would give the same name.
    """
    pairs: list[SourcePair] = []
    seen: dict[str, Path] = {}
    for part in find_parts(source, display):
        names = match_names(png_names(part.image_dir), png_names(part.mask_dir),
                            display(part.image_dir), display(part.mask_dir))
        if not names:
            raise NoImagesError(f"{display(part.image_dir)} holds no PNG images",
                                "the download is incomplete; get the complete dataset")
        for name in names:
            out = f"{part.prefix}_{name}" if part.prefix else name
            if out in seen:
                raise DataFetchError(
                    f"{display(part.image_dir / name)} and {display(seen[out])} would both become {out}",
                    "rename one of the folders that hold them")
            seen[out] = part.image_dir / name
            pairs.append(SourcePair(part.image_dir / name, part.mask_dir / name, out))
    return sorted(pairs, key=lambda pair: pair.name)
