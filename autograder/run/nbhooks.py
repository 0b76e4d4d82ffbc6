"""The preprocessors the autograder adds to nbgrader's autograde pipeline.

``SandboxedExecute`` is nbgrader's ``Execute`` with the kernel started in the submission's
sandbox folder (the launcher confines it); ``LimitOutputBytes`` cuts single huge outputs, which
nbgrader's line-based ``LimitOutput`` lets through. ``StashStudentOutputs`` (before nbgrader clears
the outputs) and ``RestoreStudentOutputs`` (right after execution) keep the student's own outputs
of cells tagged ``keep-student-output``, so that a hand grader reads the curves and tables the
student wrote about, not the grader's quick re-run.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import os
from pathlib import Path
from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
import zmq
from jupyter_core.utils import run_sync
from traitlets import Integer, Unicode

from autograder.run.warm import WarmKernelManager
from autograder.sandbox import boxfs, limits as sandbox

TRUNCATED = "... Output truncated by the autograder ..."
#: Cell tag of the cells whose handed-in outputs the graded copy keeps (for hand grading).
KEEP_TAG = "keep-student-output"
#: Where a stashed cell carries its outputs between nbgrader's sanitize and autograde steps.
STASH_KEY = "autograder_student_outputs"
#: The note shown above kept outputs in the graded copy.
KEPT_NOTE = "[The student's own outputs, as handed in; kept for hand grading. The grader's re-run is not shown.]\n"


#: Indices of the cells whose outputs were cut in this process (a worker grades one submission): when the flood
#: then kills the kernel (its own send queue fills its memory), the row still says what the submission did.
OUTPUT_CUT: set[int] = set()


class SandboxedExecute(Execute):
    """nbgrader's Execute, run in ``workdir`` (the kernel's own folder) instead of the graded folder.

    The files nbgrader placed next to the notebook (the assignment's data files) are copied
    into ``workdir`` first, so the kernel never sees, or writes, the folder holding the graded
    notebook. Everything below the box (``workdir``'s parent) is the kernel's: root reaches it only
    through :mod:`autograder.sandbox.boxfs`, never following a link the kernel left there, and only
    while no process of the kernel's uid runs.

    Outputs are capped while they arrive: past ``max_output_bytes`` in one cell the kernel is
    interrupted, the rest of the cell's outputs are dropped and a :data:`TRUNCATED` note says so
    (the row's status becomes ``huge_output``), so a kernel printing gigabytes never grows the worker.
    """

    workdir = Unicode("", help="folder the kernel runs in").tag(config=True)
    owner_uid = Integer(-1, help="uid that owns the copied files").tag(config=True)
    max_output_bytes = Integer(0, help="most characters of output one cell may produce (0: no cap)").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # nbgrader's Execute passes its kernel manager class as an argument, which config cannot
        # override; this one hands the kernel to the worker's pending warm kernel when there is one.
        kwargs.setdefault("kernel_manager_class", BoxKernelManager)
        super().__init__(*args, **kwargs)
        self._output_used: dict[int, int] = {}
        self._output_cut: dict[int, int] = {}  # cell index -> characters dropped so far
        self._tasks: set[asyncio.Future] = set()
        self._running: int | None = None  # the cell being executed
        self._monitor: Any = None
        self._raise_on_iopub_timeout = self.raise_on_iopub_timeout

    def max_message_bytes(self) -> int:
        """The largest message the worker accepts from the kernel at all (zmq ``MAXMSGSIZE``): a bigger one drops
        the connection instead of being read into memory, and its cell is cut as a flood."""
        return max(16 * 2**20, 4 * self.max_output_bytes)

    async def async_start_new_kernel_client(self) -> Any:
        """nbclient's kernel client, whose sockets refuse oversized messages; a watch on its output channel."""
        if self.max_output_bytes > 0 and isinstance(self.km, BoxKernelManager):
            self.km.max_message_bytes = self.max_message_bytes()  # for the client made next
        kc = await super().async_start_new_kernel_client()
        if self.max_output_bytes > 0:
            self._monitor = kc.iopub_channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            task = asyncio.ensure_future(self._watch_disconnects(self._monitor, kc.iopub_channel.socket))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int, *args: Any, **kwargs: Any) -> NotebookNode:
        """nbclient's cell execution, remembering which cell runs (a dropped message is charged to it)."""
        self._running = cell_index
        self.raise_on_iopub_timeout = self._raise_on_iopub_timeout
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        finally:
            self._running = None
            self.raise_on_iopub_timeout = self._raise_on_iopub_timeout

    execute_cell = run_sync(async_execute_cell)

    async def _watch_disconnects(self, monitor: Any, socket: Any) -> None:
        """While the kernel runs, its output channel drops only for a message over :meth:`max_message_bytes`;
        zmq does not reconnect after that (a protocol error), so the watch does, and charges the cell running."""
        from zmq.utils.monitor import parse_monitor_message

        try:
            while True:
                endpoint = parse_monitor_message(await monitor.recv_multipart()).get("endpoint", b"")
                endpoint = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
                with contextlib.suppress(zmq.ZMQError):
                    socket.disconnect(endpoint)  # where zmq would reconnect by itself: one connection, not two
                with contextlib.suppress(zmq.ZMQError):
                    socket.connect(endpoint)
                cell = self._running
                if cell is None:
                    continue
                self.log.warning("cell %d sent a message over %d bytes: dropped", cell, self.max_message_bytes())
                self.raise_on_iopub_timeout = False  # its idle status may have been lost with the connection
                if cell not in self._output_cut:
                    self._interrupt()
                self._output_cut[cell] = self._output_cut.get(cell, 0) + self.max_message_bytes()
        except (asyncio.CancelledError, zmq.ZMQError):
            pass

    async def _async_cleanup_kernel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._monitor is not None:
            try:
                if self.kc is not None:
                    self.kc.iopub_channel.socket.disable_monitor()
            except (zmq.ZMQError, AttributeError):
                pass
            self._monitor.close(linger=0)
            self._monitor = None
        await super()._async_cleanup_kernel()

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict, km: Any = None) -> Any:
        """Copy the assignment's files into the kernel folder, then execute there."""
        self._output_used, self._output_cut = {}, {}
        graded_dir = resources.get("metadata", {}).get("path")
        if self.workdir and graded_dir:
            work = Path(self.workdir)
            _prepare_box(work.parent, self.owner_uid)
            boxfs.copy_tree(Path(graded_dir), work.parent, work.name, self.owner_uid)
            resources = dict(resources)
            resources["metadata"] = {**resources.get("metadata", {}), "path": self.workdir}
        return super().preprocess(nb, resources, km=km)

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        """nbclient's handling of one output message, within the cell's output budget."""
        cap = self.max_output_bytes
        if cap <= 0:
            return super().output(outs, msg, display_id, cell_index)
        used = self._output_used.get(cell_index, 0)
        size = _size(msg.get("content"))
        self._output_used[cell_index] = used + size
        if used + size <= cap:
            return super().output(outs, msg, display_id, cell_index)
        content = msg.get("content") or {}
        if used < cap and msg.get("msg_type") == "stream" and isinstance(content.get("text"), str):
            msg = {**msg, "content": {**content, "text": content["text"][: cap - used]}}  # what still fits
            super().output(outs, msg, display_id, cell_index)
        dropped = self._output_cut.get(cell_index, -1)
        OUTPUT_CUT.add(cell_index)
        if dropped < 0 or (dropped + size) // cap > dropped // cap:  # the first time, then once per cap dropped
            self._interrupt()
        self._output_cut[cell_index] = max(dropped, 0) + size
        _note_cut(outs, cap)
        return None

    def on_cell_executed(self, **kwargs: Any) -> None:
        """nbgrader's check of the reply, then the cut note again where a ``clear_output`` removed it."""
        super().on_cell_executed(**kwargs)
        index = kwargs.get("cell_index")
        if self._monitor is not None and index is not None and self._monitor.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            self._output_cut.setdefault(index, self.max_message_bytes())  # a drop the watch has not seen yet
        if index in self._output_cut and "cell" in kwargs:
            _note_cut(kwargs["cell"].outputs, self.max_output_bytes)

    def _interrupt(self) -> None:
        """Interrupt the kernel (SIGINT through the launcher): the flooding cell stops, the worker goes on."""
        if self.km is None:
            return
        try:
            result = self.km.interrupt_kernel()
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception as exc:  # noqa: BLE001 - a kernel that is gone cannot flood either
            self.log.warning("could not interrupt the kernel: %s", exc)


class BoxKernelManager(WarmKernelManager):
    """The sandbox's kernel manager: removes the connection file and ipc sockets it made in the box without
    following a link the kernel put in their place (Jupyter's own clean-up removes by path); its clients refuse
    messages over ``max_message_bytes`` (zmq ``MAXMSGSIZE``: the connection drops instead of the worker growing)."""

    max_message_bytes = Integer(0, help="largest message a client of this manager accepts (0: any)")

    def client(self, **kwargs: Any) -> Any:
        """Jupyter's client of this kernel, its sockets (made when its channels start) bounded in message size."""
        kc = super().client(**kwargs)
        if self.max_message_bytes > 0:
            kc.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        return kc

    def cleanup_connection_file(self) -> None:
        """Remove the connection file, if this manager wrote it."""
        if self._connection_file_written:
            self._connection_file_written = False
            _remove_in_box(self.connection_file)

    def cleanup_ipc_files(self) -> None:
        """Remove the kernel's ipc socket files."""
        if self.transport == "ipc":
            for port in self.ports:
                _remove_in_box("%s-%i" % (self.ip, port))


def _remove_in_box(path: str) -> None:
    """Remove ``<box>/<folder>/<name>`` through descriptors (``path``'s grandparent is the box: root's path)."""
    p = Path(path)
    boxfs.remove_in(p.parent.parent, p.parent.name, p.name)


def _prepare_box(box: Path, uid: int) -> None:
    """Before a kernel starts: nothing of the kernel's uid still runs (as root), and ``run`` (where Jupyter
    writes the connection file, by path) is a fresh, real folder of the kernel's."""
    if os.geteuid() == 0 and uid >= 0:
        sandbox.kill_uid(uid)  # a process left by the last kernel could swap folders while root works in them
    boxfs.reset_dir(box, "run", uid)


def _size(value: Any) -> int:
    """Characters of text in a message's content (strings, nested), without copying it."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(str(k)) + _size(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value)
    return 8


def _note_cut(outs: list[NotebookNode], cap: int) -> None:
    """Append the note that the cell's outputs were cut (once)."""
    if any(o.get("output_type") == "stream" and TRUNCATED in str(o.get("text", "")) for o in outs):
        return
    outs.append(NotebookNode(output_type="stream", name="stderr",
                             text=f"\n{TRUNCATED} (over {cap} characters of output in this cell: the cell was "
                                  "interrupted and its later outputs dropped)\n"))


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
