"""Unpacking zip and tar archives safely: no path may leave the target folder, no links, no devices."""
from __future__ import annotations

import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO

from tqdm import tqdm

from .errors import DataFetchError, disk_full, is_disk_full

CORRUPT = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError)


def _kind(archive: Path) -> str:
    with open(archive, "rb") as handle:
        head = handle.read(512)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) or head[257:262] == b"ustar":
        return "tar"
    raise DataFetchError(f"{archive} is not a zip or tar archive",
                         "pass a .zip or .tar(.gz/.bz2/.xz) file, or unpack it yourself and use `normalize`")


def member_path(root: Path, name: str, archive: Path) -> Path:
    """Where member ``name`` goes under ``root``; refuses absolute names, drive letters and ``..``."""
    cleaned = name.replace("\\", "/")
    parts = [part for part in cleaned.split("/") if part not in ("", ".")]
    if cleaned.startswith("/") or re.match(r"^[A-Za-z]:", cleaned) or ".." in parts:
        raise DataFetchError(f"{archive} contains {name!r}, a path outside the folder it unpacks into",
                             "the archive is unsafe (zip-slip); do not use it, get the dataset from a trusted source")
    return root.joinpath(*parts) if parts else root


def _refuse_link(archive: Path, name: str, what: str) -> DataFetchError:
    return DataFetchError(f"{archive} contains {name!r}, which is a {what}",
                          "the dataset needs only files and folders; do not use this archive, "
                          "or unpack it yourself, check it and use `normalize`")


def _copy(source: IO[bytes], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    except OSError as error:
        if is_disk_full(error):
            raise disk_full(target) from error
        raise


def _unzip(archive: Path, root: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        targets = []
        for info in members:  # check every name before writing anything
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                raise _refuse_link(archive, info.filename, "symbolic link" if kind == stat.S_IFLNK else "special file")
            targets.append(member_path(root, info.filename, archive))
        for info, target in tqdm(list(zip(members, targets)), desc="unpacking", unit="file", disable=None,
                                 leave=False):
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with bundle.open(info) as source:
                _copy(source, target)


def _untar(archive: Path, root: Path) -> None:
    with tarfile.open(archive, "r:*") as bundle:
        for info in tqdm(bundle, desc="unpacking", unit="file", disable=None, leave=False):
            target = member_path(root, info.name, archive)
            if info.issym() or info.islnk():
                raise _refuse_link(archive, info.name, "symbolic link" if info.issym() else "hard link")
            if info.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif info.isreg():
                source = bundle.extractfile(info)
                assert source is not None
                with source:
                    _copy(source, target)
            else:
                raise _refuse_link(archive, info.name, "device, pipe or other special file")


def unpack(archive: Path, root: Path) -> None:
    """Unpack the zip or tar (optionally gzip/bzip2/xz compressed) ``archive`` into the folder ``root``.

    Raises DataFetchError naming the archive when it is truncated or corrupt, or names a member that would
    land outside ``root`` (absolute, ``..``) or is a link or special file. ``root`` may then hold some
    files; the caller deletes it.
    """
    kind = _kind(archive)
    try:
        (_unzip if kind == "zip" else _untar)(archive, root)
    except DataFetchError:
        raise
    except CORRUPT as error:
        if is_disk_full(error):
            raise disk_full(root) from error
        if isinstance(error, OSError) and not isinstance(error, (EOFError, zlib.error)) and error.errno:
            raise
        raise DataFetchError(f"{archive} is truncated or corrupt ({type(error).__name__}: {error})",
                             "download it again (its checksum matched, so the source itself is damaged)") from error
