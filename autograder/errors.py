"""The one exception type the CLI turns into a one-line message."""
from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: says what went wrong (naming the file) and what to do."""

    def __init__(self, what: str, todo: str) -> None:
        super().__init__(f"{what} — {todo}")
        self.what = what
        self.todo = todo
