"""All-or-nothing output folders: build beside the destination, then move into place in one rename."""
from __future__ import annotations

import os
import shutil
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DataFetchError, disk_full, is_disk_full

PARTIAL = ".partial-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(parent: Path, name: str) -> None:
    """Delete work folders left beside ``parent/name`` by runs that were killed (their process is gone)."""
    prefix = f".{name}{PARTIAL}"
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(entry, ignore_errors=True)


def check_destination(dest: Path, force: bool) -> None:
    """Refuse a destination that exists (unless empty, or ``force``) or that is a file."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise DataFetchError(f"{dest} exists and is not a folder", "choose another --dest or remove it")
    if dest.is_dir() and not force and any(dest.iterdir()):
        raise DataFetchError(f"{dest} already exists and is not empty",
                             "pass --force to replace it, or choose another --dest")


def work_dir(dest: Path, label: str = "") -> Path:
    """A new hidden folder beside ``dest`` (same disk, so the final rename is atomic)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    while True:  # like tempfile.mkdtemp, but with the usual permissions (umask applies)
        folder = dest.parent / f".{dest.name}{PARTIAL}{os.getpid()}-{label}{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def _replace(staged: Path, dest: Path) -> None:
    if dest.is_dir() and not any(dest.iterdir()):
        dest.rmdir()
    if not dest.exists():
        os.rename(staged, dest)
        return
    old = work_dir(dest, "old-")
    os.rename(dest, old / dest.name)
    try:
        os.rename(staged, dest)
    except BaseException:
        os.rename(old / dest.name, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_output(dest: str | os.PathLike[str], *, force: bool) -> Iterator[Path]:
    """Yield an empty folder to build a dataset in; on success it replaces ``dest`` in one rename.

    On any error (or Ctrl-C) the folder is deleted and ``dest`` is left as it was. A full disk becomes a
    DataFetchError naming the file being written.
    """
    target = Path(dest).absolute()
    check_destination(target, force)
    try:
        remove_stale(target.parent, target.name)
        staged = work_dir(target)
    except OSError as error:
        if is_disk_full(error):
            raise disk_full(target.parent) from error
        raise DataFetchError(f"cannot create a folder beside {target}: {error.strerror}",
                             "check that the parent folder is writable, or choose another --dest") from error
    try:
        yield staged
        _replace(staged, target)
    except OSError as error:
        shutil.rmtree(staged, ignore_errors=True)
        if is_disk_full(error):
            raise disk_full(error.filename or staged) from error
        raise
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


@contextmanager
def scratch_dir(dest: str | os.PathLike[str], label: str) -> Iterator[Path]:
    """A temporary folder beside ``dest`` (for unpacking archives), always deleted afterwards."""
    target = Path(dest).absolute()
    remove_stale(target.parent, target.name)
    folder = work_dir(target, label)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
