"""One Validate, run apart from the lab's server: ``python -m autograder.instructor.validate_run NOTEBOOK PROGRESS RESULT``.

The lab's Validate button (:mod:`autograder.instructor.validate_bound`) starts this process for each press and
stops it, with its kernel, when the run passes its time limit. Here nbgrader's own :class:`nbgrader.validator.Validator`
runs the notebook with the course's ``nbgrader_config.py`` (read from the working folder, as nbgrader's Validate
does). Two small JSON files tell the server what happens:

* ``PROGRESS`` is rewritten when the kernel has started (``{"kernel": true}``) and as each code cell starts
  (``{"kernel": true, "cell": INDEX, "source": SOURCE}``), so the server can say which cell was still running;
* ``RESULT`` holds nbgrader's answer for the lab's dialog, ``{"success": ..., "value": ...}``, written last.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

__all__ = ["load_course_config", "validate", "main"]


def load_course_config() -> Any:
    """nbgrader's configuration as its Validate reads it: the working folder first, then the Jupyter config path."""
    from jupyter_core.paths import jupyter_config_path
    from nbgrader.apps import NbGrader

    app = NbGrader()
    app.config_file_paths.append([os.getcwd(), *jupyter_config_path()])
    app.load_config_file()
    return app.config


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` to ``path`` whole or not at all (a reader never sees half a file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as sink:
        json.dump(value, sink)
    os.replace(tmp, path)


def validate(notebook: Path, progress: Path) -> dict[str, Any]:
    """Run nbgrader's Validator on ``notebook``; the answer the lab's dialog shows (``success``, ``value``)."""
    from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError
    from nbgrader.validator import Validator

    def kernel_started(**_: Any) -> None:
        _write_json(progress, {"kernel": True})

    def cell_started(cell: Any = None, cell_index: int = -1, **_: Any) -> None:
        _write_json(progress, {"kernel": True, "cell": cell_index, "source": str(getattr(cell, "source", ""))})

    try:
        config = load_course_config()
        config.Execute.on_notebook_start = kernel_started
        config.Execute.on_cell_execute = cell_started
        result = Validator(config=config).validate(str(notebook))
    except SchemaTooOldError:
        return {"success": False, "value": f"{notebook} uses an old version of nbgrader's metadata. Back it up, "
                                           f"then update it with: nbgrader update {notebook}"}
    except SchemaTooNewError:
        return {"success": False, "value": f"{notebook} uses a newer version of nbgrader's metadata than this "
                                           "nbgrader knows; ask your instructor which nbgrader version to use."}
    except Exception:  # noqa: BLE001 - the dialog shows what went wrong, as nbgrader's own Validate does
        return {"success": False, "value": traceback.format_exc()}
    return {"success": True, "value": result}


def main(argv: list[str] | None = None) -> int:
    """Validate ``NOTEBOOK``, reporting to ``PROGRESS`` and ``RESULT``; exit status 0 once RESULT is written."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("Error: usage: python -m autograder.instructor.validate_run NOTEBOOK PROGRESS RESULT", file=sys.stderr)
        return 2
    notebook, progress, result = (Path(a) for a in args)
    _write_json(result, validate(notebook, progress))
    return 0


if __name__ == "__main__":
    sys.exit(main())
