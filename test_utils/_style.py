"""ANSI colour for failure messages, only where it will be rendered.

Colour is used when ``NO_COLOR`` is unset or empty (https://no-color.org) and either the code
runs in a Jupyter kernel (which renders ANSI in tracebacks), ``FORCE_COLOR`` is set to a
non-empty value, or standard error is a terminal. Everywhere else (log files, CSV reasons,
pytest captures) messages are plain text.
"""
from __future__ import annotations

import os
import re
import sys

__all__ = ["colour_enabled", "paint", "strip_ansi"]

_CODES = {"bold": "1", "red": "31", "green": "32", "yellow": "33"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return getattr(shell, "kernel", None) is not None


def colour_enabled() -> bool:
    """Whether messages should carry ANSI colour codes right now."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if _in_jupyter_kernel():
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def paint(text: str, style: str, enabled: bool) -> str:
    """``text`` wrapped in the ANSI code for ``style`` when ``enabled``, else unchanged."""
    if not enabled:
        return text
    return f"\x1b[{_CODES[style]}m{text}\x1b[0m"


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour codes (for logs and grade reasons)."""
    return _ANSI.sub("", text)
