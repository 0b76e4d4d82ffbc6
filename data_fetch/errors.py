"""The one exception type the commands raise for problems the user can fix."""
from __future__ import annotations

import errno


class DataFetchError(Exception):
    """A problem with the user's input or machine, with what went wrong and what to do about it.

    ``str(error)`` is the one-line message ``"<what> — <todo>"`` that the command line prints after
    ``Error:``.
    """

    def __init__(self, what: str, todo: str) -> None:
        super().__init__(f"{what} — {todo}")
        self.what = what
        self.todo = todo

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Keeps the two parts when the error crosses from a worker process to the parent.
        return (type(self), (self.what, self.todo))


class PairingError(DataFetchError, ValueError):
    """Images and masks do not pair up one to one by file name."""


def disk_full(path: object) -> DataFetchError:
    """The error for a full disk while writing ``path``."""
    return DataFetchError(
        f"no space left on the device while writing {path}",
        "free some disk space or choose a --dest on another disk, then run the command again",
    )


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is the operating system saying that the disk is full (ENOSPC or EDQUOT)."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
