"""The preprocessors the autograder adds to nbgrader's autograde pipeline.

``SandboxedExecute`` is nbgrader's ``Execute`` with the kernel started in the submission's
sandbox folder (the launcher confines it); ``LimitOutputBytes`` cuts single huge outputs, which
nbgrader's line-based ``LimitOutput`` lets through. ``StashStudentOutputs`` (before nbgrader clears
the outputs) and ``RestoreStudentOutputs`` (right after execution) keep the student's own outputs
of cells tagged ``keep-student-output``, so that a hand grader reads the curves and tables the
student wrote about, not the grader's quick re-run.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode

from autograder.run.warm import WarmKernelManager

TRUNCATED = "... Output truncated by the autograder ..."
#: Cell tag of the cells whose handed-in outputs the graded copy keeps (for hand grading).
KEEP_TAG = "keep-student-output"
#: Where a stashed cell carries its outputs between nbgrader's sanitize and autograde steps.
STASH_KEY = "autograder_student_outputs"
#: The note shown above kept outputs in the graded copy.
KEPT_NOTE = "[The student's own outputs, as handed in; kept for hand grading. The grader's re-run is not shown.]\n"


class SandboxedExecute(Execute):
    """nbgrader's Execute, run in ``workdir`` (the kernel's own folder) instead of the graded folder.

    The files nbgrader placed next to the notebook (the assignment's data files) are copied
    into ``workdir`` first, so the kernel never sees, or writes, the folder holding the graded
    notebook.
    """

    workdir = Unicode("", help="folder the kernel runs in").tag(config=True)
    owner_uid = Integer(-1, help="uid that owns the copied files").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # nbgrader's Execute passes its kernel manager class as an argument, which config cannot
        # override; this one hands the kernel to the worker's pending warm kernel when there is one.
        kwargs.setdefault("kernel_manager_class", WarmKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict, km: Any = None) -> Any:
        """Copy the assignment's files into the kernel folder, then execute there."""
        graded_dir = resources.get("metadata", {}).get("path")
        if self.workdir and graded_dir:
            _copy_files(Path(graded_dir), Path(self.workdir), self.owner_uid)
            resources = dict(resources)
            resources["metadata"] = {**resources.get("metadata", {}), "path": self.workdir}
        return super().preprocess(nb, resources, km=km)


def _copy_files(src: Path, dest: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        for name in filenames:
            if name.endswith(".ipynb") or os.path.islink(os.path.join(dirpath, name)):
                continue
            target = dest / rel / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(os.path.join(dirpath, name), target)
            if uid >= 0 and os.geteuid() == 0:
                os.chown(target, uid, uid)
                os.chown(target.parent, uid, uid)


class LimitOutputBytes(NbGraderPreprocessor):
    """Cut any single text output longer than ``max_bytes`` characters."""

    max_bytes = Integer(2 * 2**20, help="largest text output kept, in characters").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int) -> tuple[NotebookNode, ResourcesDict]:
        """Truncate stream text and text/plain data of one cell."""
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and len(output.get("text", "")) > self.max_bytes:
                output["text"] = output["text"][: self.max_bytes] + "\n" + TRUNCATED
            data = output.get("data", {})
            for mime in list(data):
                value = data[mime]
                if isinstance(value, str) and len(value) > self.max_bytes:
                    data[mime] = (value[: self.max_bytes] + "\n" + TRUNCATED) if mime.startswith("text/") else ""
        return cell, resources


def _is_graded(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade") or meta.get("solution") or meta.get("task"))


class StashStudentOutputs(NbGraderPreprocessor):
    """Before outputs are cleared: copy the outputs of tagged, ungraded code cells into the cell's metadata.

    The submission is untrusted: any stash the student wrote is removed first, graded cells are never
    stashed (their outputs decide scores), and at most ``max_bytes`` of outputs (JSON) are kept per notebook.
    """

    max_bytes = Integer(8 * 2**20, help="most bytes of stashed outputs per notebook").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        """Stash every tagged cell's outputs, within the byte budget."""
        budget = self.max_bytes
        for cell in nb.cells:
            cell.get("metadata", {}).pop(STASH_KEY, None)
            tags = cell.get("metadata", {}).get("tags", [])
            if cell.get("cell_type") != "code" or not isinstance(tags, list) or KEEP_TAG not in tags or _is_graded(cell):
                continue
            size = len(json.dumps(cell.get("outputs", [])))
            if size > budget:
                self.log.warning("outputs of a %s cell left out (%d bytes over the budget)", KEEP_TAG, size)
                continue
            budget -= size
            cell.metadata[STASH_KEY] = copy.deepcopy(cell.get("outputs", []))
        return nb, resources


class RestoreStudentOutputs(NbGraderPreprocessor):
    """After execution: put stashed outputs back in place of the re-run's, under a one-line note."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        """Restore the outputs stashed by :class:`StashStudentOutputs`."""
        for cell in nb.cells:
            stashed = cell.get("metadata", {}).pop(STASH_KEY, None)
            if stashed is None or cell.get("cell_type") != "code" or _is_graded(cell) or not isinstance(stashed, list):
                continue
            note = {"output_type": "stream", "name": "stdout", "text": KEPT_NOTE}
            cell["outputs"] = [NotebookNode(note)] + [NotebookNode(o) for o in stashed if isinstance(o, dict)]
        return nb, resources
