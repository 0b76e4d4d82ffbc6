"""Run tasks as child processes, ``parallel`` at a time, each with a wall-clock limit.

Generic: the caller says how to start a task in a slot and what to do when it ends; the
scheduler only keeps slots busy, enforces deadlines and calls back in the parent process,
one task at a time (so the callback may write the gradebook without any locking).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Protocol, TypeVar

T = TypeVar("T")


class Process(Protocol):
    """What the scheduler needs of a task: ``subprocess.Popen`` or a forked worker."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


@dataclass
class Running(Generic[T]):
    """A task in flight."""

    item: T
    slot: int
    proc: Process
    started: float
    deadline: float


def kill_group(proc: Process, wait_s: float = 10.0) -> None:
    """SIGKILL a child's whole process group (or the child, before it has one) and reap it (bounded wait)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        pass


def run(items: Iterable[T], *, parallel: int, timeout: float,
        launch: Callable[[T, int], Process],
        finish: Callable[[T, int, int | None, float], None],
        poll_s: float = 0.1) -> None:
    """Start each item with ``launch(item, slot)``; call ``finish(item, slot, returncode, seconds)``.

    ``returncode`` is None when the task ran past ``timeout`` and was killed. On any exception
    (Ctrl-C included) every running task is killed before it propagates.
    """
    pending = deque(items)
    free = list(range(max(1, parallel)))[::-1]
    running: list[Running[T]] = []
    try:
        while pending or running:
            while pending and free:
                item, slot = pending.popleft(), free.pop()
                now = time.monotonic()
                running.append(Running(item, slot, launch(item, slot), now, now + timeout))
            time.sleep(poll_s)
            for task in list(running):
                code = task.proc.poll()
                now = time.monotonic()
                if code is None and now < task.deadline:
                    continue
                if code is None:
                    kill_group(task.proc)
                running.remove(task)
                try:
                    finish(task.item, task.slot, code, now - task.started)
                finally:
                    free.append(task.slot)
    finally:
        for task in running:
            kill_group(task.proc)
