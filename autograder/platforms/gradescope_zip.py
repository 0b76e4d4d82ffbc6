"""``make gradescope``: the autograder zip that Gradescope's own image runs.

Layout (unpacked by Gradescope into ``/autograder/source``)::

    setup.sh  run_autograder            # Gradescope's two entry points
    requirements.in  requirements-cpu.lock
    kit/{autograder,test_utils,data_fetch}/
    course/nbgrader_config.py  course/gradebook.db  course/release/<a>/  course/source/<a>/ (no notebooks)

``course/gradebook.db`` holds the assignment's definition with its hidden tests, made by nbgrader
``generate_assignment`` in a scratch copy; the solutions never enter the zip.
"""
from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from autograder.instructor import release
from autograder.course import scratch as scratch_course
from autograder.course.directory import CONFIG_NAME, regular_files
from autograder.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "autograder" / "platforms" / "image"
EXECUTABLE = {"setup.sh", "run_autograder"}


def _add_tree(zf: zipfile.ZipFile, folder: Path, prefix: str, skip_notebooks: bool = False) -> None:
    for path in regular_files(folder):
        if "__pycache__" in path.parts or path.suffix == ".pyc" or (skip_notebooks and path.suffix == ".ipynb"):
            continue
        zf.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")


def run(*, root: Path = ROOT, assignment: str = "unet", out: Path | None = None) -> Path:
    """Build ``gradescope-<assignment>.zip`` in ``root`` (or ``out``); return its path."""
    root = Path(root)
    if not (root / "source" / assignment).is_dir():
        raise UserError(f"no folder source/{assignment} in {root}", "name an assignment: make gradescope ASSIGNMENT=unet")
    out = Path(out) if out else root / f"gradescope-{assignment}.zip"
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        course = scratch_course.build(Path(tmp) / "course", origin=root, assignment=assignment, source="all")
        release.run(root=course, assignments=[assignment], verify=False)  # the committed release was checked
        partial = out.with_name(f".{out.name}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in ("setup.sh", "run_autograder", "requirements.in", "requirements-cpu.lock"):
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o755 if name in EXECUTABLE else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, (IMAGE / name).read_bytes())
            for package in ("autograder", "test_utils", "data_fetch"):
                _add_tree(zf, ROOT / package, f"kit/{package}")
            zf.write(course / CONFIG_NAME, f"course/{CONFIG_NAME}")
            zf.write(course / "gradebook.db", "course/gradebook.db")
            _add_tree(zf, course / "release" / assignment, f"course/release/{assignment}")
            _add_tree(zf, course / "source" / assignment, f"course/source/{assignment}", skip_notebooks=True)
            _add_tree(zf, course / "references" / assignment, f"course/references/{assignment}")
        partial.replace(out)
    return out
