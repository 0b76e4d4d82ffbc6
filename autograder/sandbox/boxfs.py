"""Root's file operations inside a kernel's box, none of which ever follows a link.

A kernel owns its box (``<scratch>/box``, its uid, 0700) and may replace anything in it between two
of root's visits: ``work`` by a link to ``/``, a data file by a link to ``/etc/passwd``, a folder by a
link to site-packages. The box's own path is root's (its parent, the scratch folder, is root's and
0711), everything below it is the kernel's. So root opens the box once, by path, with ``O_NOFOLLOW``,
and reaches everything inside from that descriptor, one name at a time (``openat``-style, each with
``O_NOFOLLOW``): a link where a folder or file should be is removed (the link itself, never its target)
and replaced by a real one; ownership is set on open descriptors (``fchown``), never on paths.

Besides the copies and chowns, :func:`reset_dir` gives a kernel start a fresh, real folder (``run``,
where Jupyter writes the connection file by path), :func:`remove` deletes a name in a box folder, and
:func:`mount_private` gives the box a size bound: a tmpfs in the worker's own mount namespace, which
disappears with the worker and its kernel (nothing to unmount, nothing left behind when it is killed).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import stat
from pathlib import Path, PurePosixPath

#: The kernel's folders in its box: work dir, home, tmp, ipc sockets and connection file.
BOX_FOLDERS = ("work", "home", "tmp", "run")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 2, 4, 16384, 1 << 18


class BoxError(OSError):
    """Root could not do what it meant to in a box (the box itself is missing or not a folder)."""


def _as_root() -> bool:
    return os.geteuid() == 0


def open_box(box: Path) -> int:
    """A descriptor of the box folder itself (its path is root's; the box must not be a link)."""
    try:
        return os.open(box, _DIR_FLAGS)
    except OSError as exc:
        raise BoxError(exc.errno, f"cannot open the box {box}: {exc.strerror}") from None


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise BoxError(22, f"not a single file name: {name!r}")


def remove(dir_fd: int, name: str) -> None:
    """Remove ``name`` in the folder ``dir_fd`` whatever it is (a link itself, a file, a whole tree), never
    following a link; nothing when it does not exist."""
    _check_name(name)
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)  # descriptor-based: never leaves the tree through a link
    else:
        os.unlink(name, dir_fd=dir_fd)


def _chown(fd: int, uid: int) -> None:
    if uid >= 0 and _as_root():
        os.fchown(fd, uid, uid)


def subdir(dir_fd: int, name: str, uid: int = -1, mode: int = 0o700) -> int:
    """A descriptor of the real folder ``name`` in ``dir_fd``, made (owned by ``uid``) when missing; a link,
    file or anything else in its place is removed first. The caller closes the descriptor."""
    _check_name(name)
    for _ in range(3):
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        except (NotADirectoryError, OSError) as exc:
            if exc.errno not in (20, 40):  # ENOTDIR, ELOOP: not a folder, or a link
                raise
            remove(dir_fd, name)
        else:
            _chown(fd, uid)
            return fd
        try:
            os.mkdir(name, mode, dir_fd=dir_fd)
        except FileExistsError:
            continue  # someone made it in between: look again
    raise BoxError(17, f"{name} keeps changing in the box")


def open_path(box_fd: int, rel: PurePosixPath | str, uid: int = -1) -> int:
    """A descriptor of the real folder ``rel`` below the box (each component made or replaced as by :func:`subdir`)."""
    fd = os.dup(box_fd)
    for part in PurePosixPath(rel).parts:
        if part in ("", "."):
            continue
        try:
            nxt = subdir(fd, part, uid)
        finally:
            os.close(fd)
        fd = nxt
    return fd


def copy_in(src: Path, dir_fd: int, name: str, uid: int = -1) -> None:
    """Copy the regular file ``src`` (root's) to a new file ``name`` in ``dir_fd``, owned by ``uid``; whatever
    held that name before (a link, a file, a folder) is removed, never followed."""
    _check_name(name)
    remove(dir_fd, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    out = os.open(name, flags, 0o600, dir_fd=dir_fd)
    try:
        with open(src, "rb") as fh:
            while chunk := fh.read(1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view):]
        _chown(out, uid)
    finally:
        os.close(out)


def copy_tree(src: Path, box: Path, rel: str, uid: int = -1, skip_suffix: str = ".ipynb") -> int:
    """Copy the regular files of the folder ``src`` (root's; links in it are skipped) into ``box/rel``, keeping
    their layout; each folder and file ends up real and owned by ``uid``. Returns the number of files."""
    box_fd = open_box(box)
    copied = 0
    try:
        for dirpath, _dirnames, filenames in os.walk(src):
            names = [n for n in sorted(filenames)
                     if not n.endswith(skip_suffix) and not os.path.islink(os.path.join(dirpath, n))
                     and os.path.isfile(os.path.join(dirpath, n))]
            if not names:
                continue
            target = PurePosixPath(rel) / Path(dirpath).relative_to(src).as_posix()
            fd = open_path(box_fd, target, uid)
            try:
                for name in names:
                    copy_in(Path(dirpath) / name, fd, name, uid)
                    copied += 1
            finally:
                os.close(fd)
    finally:
        os.close(box_fd)
    return copied


def make_folders(box: Path, uid: int) -> None:
    """The box (made when missing) and its real :data:`BOX_FOLDERS`, all owned by ``uid`` (as root), 0700."""
    box.mkdir(mode=0o700, exist_ok=True)
    box_fd = open_box(box)
    try:
        _chown(box_fd, uid)
        for name in BOX_FOLDERS:
            os.close(subdir(box_fd, name, uid))
    finally:
        os.close(box_fd)


def reset_dir(box: Path, name: str, uid: int = -1) -> None:
    """Make ``box/name`` a new, empty, real folder owned by ``uid``: whatever was there goes, unfollowed."""
    box_fd = open_box(box)
    try:
        remove(box_fd, name)
        os.close(subdir(box_fd, name, uid))
    finally:
        os.close(box_fd)


def remove_in(box: Path, folder: str, name: str) -> None:
    """Remove ``box/folder/name`` when ``folder`` is still a real folder (a link there: nothing is touched)."""
    try:
        box_fd = open_box(box)
    except BoxError:
        return
    try:
        fd = os.open(folder, _DIR_FLAGS, dir_fd=box_fd)
    except OSError:
        return
    finally:
        os.close(box_fd)
    try:
        os.unlink(name, dir_fd=fd)
    except (OSError, ValueError):
        pass
    finally:
        os.close(fd)


def free_bytes(box: Path) -> int | None:
    """Bytes left to an unprivileged writer on the file system holding the box (None: no box)."""
    try:
        fd = open_box(box)
    except BoxError:
        return None
    try:
        st = os.fstatvfs(fd)
    finally:
        os.close(fd)
    return st.f_bavail * st.f_frsize


def _libc_call(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise BoxError(err, f"{name}: {os.strerror(err)}")


def mount_private(box: Path, uid: int, size_mb: int) -> None:
    """As root: this process (single-threaded, before it starts any kernel) gets its own mount namespace,
    in which a tmpfs of ``size_mb`` MiB, owned by ``uid``, covers ``box``; the box's folders are made in it.

    The mount is seen by this process and everything it starts later (the kernel binds the box from
    here), never by the rest of the machine; it goes away with the last of them, so nothing needs
    unmounting, even after a kill. Raises :class:`BoxError` when it cannot be done.
    """
    _libc_call("unshare", _CLONE_NEWNS)
    _libc_call("mount", None, b"/", None, _MS_REC | _MS_PRIVATE, None)  # nothing leaks back to the machine
    box_fd = open_box(box)  # the path is root's: the mount point must be the real box folder
    os.close(box_fd)
    options = f"size={int(size_mb)}m,mode=0700,uid={uid},gid={uid}".encode()
    _libc_call("mount", b"tmpfs", str(box).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options)
    make_folders(box, uid)
