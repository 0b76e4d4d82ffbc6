"""The two preprocessors the autograder adds to nbgrader's autograde pipeline.

``SandboxedExecute`` is nbgrader's ``Execute`` with the kernel started in the submission's
sandbox folder (the launcher confines it); ``LimitOutputBytes`` cuts single huge outputs, which
nbgrader's line-based ``LimitOutput`` lets through.
"""
from __future__ import annotations

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
