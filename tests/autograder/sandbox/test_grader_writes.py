"""Nothing the grader writes can be opened by the kernel's uid, found without knowing what the grader writes.

A probe submission of the real ``unet`` course (its ``references/``, ``source/`` and gradebook in place) stops in its
first cell, records its uid and waits. While it waits, the test lists, as root, *every* entry the grading process
created for the run (the run's scratch folder, each job folder, the template gradebook, the judge's cache, the logs;
in a container also its ``/tmp`` and home), leaving out only the kernel's own box and what the kernel itself owns, and
tries to open each one as the kernel's uid. A file the grader starts writing tomorrow is covered without anyone
adding it to a list. Then the kernel is let go and the run ends normally.

Paths: root's default (warm) host path, ``grade --container``, and the image's Gradescope entry.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import nbformat
import pytest

import batches
from autograder.course.directory import Course
from autograder.host import container as containers
from autograder.host import grade
from autograder.sandbox import limits as sandbox

NOTEBOOK = "Image_segmentation_Unet.ipynb"
#: Bounded everywhere: the kernel waits at most this long for GO; the test at most this long for the kernel.
WAIT_S = 240
WAITER = f"""
import os, time
open('WAITING', 'w').write(str(os.getuid()))
deadline = time.monotonic() + {WAIT_S}
while not os.path.exists('GO') and time.monotonic() < deadline:
    time.sleep(0.2)
"""
#: Run as the kernel's uid: which of the paths on stdin (one JSON list) it can open or list.
OPENABLE = """
import json, os, sys
found = []
for p in json.load(sys.stdin):
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            os.listdir(p)
        else:
            os.close(os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK))
        found.append(p)
    except OSError:
        pass
print(json.dumps(found))
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switches to the kernel's uid to try the files")


def waiter_notebook(course: Path) -> nbformat.NotebookNode:
    """The released notebook with a first cell that waits (bounded) for GO in its working folder."""
    nb = nbformat.read(course / "release" / "unet" / NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(WAITER))
    return nb


def _submit(course: Path, student: str) -> None:
    folder = course / "submitted" / student / "unet"
    folder.mkdir(parents=True)
    nbformat.write(waiter_notebook(course), folder / NOTEBOOK)


def _in_thread(target: Callable[[], object]) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = target()
        except BaseException as exc:  # handed to the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _until(find: Callable[[], object], what: str, thread: threading.Thread, out: dict) -> object:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        if not thread.is_alive():
            raise AssertionError(f"the run ended before {what}: {out}")
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {WAIT_S} s")


def _host_entries(top: Path, kernel_uid: int) -> list[str]:
    """Every entry under ``top`` but kernel boxes and what the kernel owns (walked as root, links not followed)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d != "box" and os.lstat(os.path.join(dirpath, d)).st_uid != kernel_uid]
        found += [os.path.join(dirpath, n) for n in dirnames + filenames
                  if os.lstat(os.path.join(dirpath, n)).st_uid != kernel_uid]
    return [str(top), *found]


def _openable_on_host(uid: int, paths: list[str]) -> list[str]:
    done = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "python3", "-I", "-c", OPENABLE],
                          input=json.dumps(paths), capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def _run_folder() -> Path | None:
    """This process's grading run folder (``/tmp/ag-*`` whose owner.pid is ours)."""
    for folder in Path("/tmp").glob("ag-*"):
        try:
            if (folder / "owner.pid").read_text().strip() == str(os.getpid()):
                return folder
        except OSError:
            continue
    return None


def _ours(pid: int) -> bool:
    """True when ``pid`` descends from this test process (not another test worker's kernel or container)."""
    import psutil

    try:
        return any(parent.pid == os.getpid() for parent in psutil.Process(pid).parents())
    except psutil.Error:
        return False


def _waiting_kernel_on_host() -> tuple[Path, int] | None:
    """The waiting kernel's working folder (seen through ``/proc/PID/cwd``: as root the box is a tmpfs in the worker's
    own mount namespace, invisible from here) and its uid. Only this process's own kernels count: another test worker
    may run the container variant's waiting kernel at the same time (run 1 of the fresh-machine series found that
    one, whose run folder is not ours)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not _ours(int(proc.name)):
            continue
        waiting = proc / "cwd" / "WAITING"
        try:
            text = waiting.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return proc / "cwd", int(text)
    return None


@pytest.fixture
def unet_course(released_course: Callable[[str], Path], tmp_path: Path) -> Path:
    course = batches.copy(released_course("unet"), tmp_path / "course")
    assert any((course / "references" / "unet").glob("*.json")), "the real course has its references"
    _submit(course, "probe")
    return course


@needs_root
@pytest.mark.slow
def test_host_path_nothing_the_grader_wrote_is_open_to_the_kernel(unet_course: Path) -> None:
    thread, out = _in_thread(lambda: grade.run(course=Course.open(unet_course), assignment="unet", jobs=1,
                                               progress=False, quiet=True))
    work, uid = _until(_waiting_kernel_on_host, "waiting kernel", thread, out)  # type: ignore[misc]
    try:
        run = _run_folder()
        assert run is not None
        entries = _host_entries(run, uid)
        assert any(e.endswith("template.db") for e in entries) and any(e.endswith("job.json") for e in entries)
        assert _openable_on_host(uid, entries) == []
    finally:
        (work / "GO").touch()
        thread.join(WAIT_S + 600)
    assert "error" not in out, out
    assert [r["status"] for r in out["value"]] == ["graded"]


def _docker(client: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([client, *args], capture_output=True, text=True, timeout=120, input=input)


def _in_container(client: str, name: str, roots: list[str], waiting_glob: str) -> tuple[int, list[str], list[str]]:
    """The kernel's uid, every root-made entry under ``roots`` but kernel boxes, and those the uid can open."""
    uid = int(_docker(client, "exec", name, "sh", "-c", f"cat {waiting_glob}").stdout.strip())
    # the roots themselves are the container's mounts (a 1777 /tmp), not the grader's: what it made under them counts
    listed = _docker(client, "exec", name, "find", *roots, "-xdev", "-mindepth", "1", "(", "-name", "box", "-o", "-path", "/tmp/unet-grader-uids",
                     ")", "-prune", "-o", "-user", "0", "-print")
    entries = [line for line in listed.stdout.splitlines() if line]
    opened = _docker(client, "exec", "-i", "--user", f"{uid}:{uid}", name, "python", "-I", "-c", OPENABLE,
                     input=json.dumps(entries))
    assert opened.returncode == 0, opened.stderr
    return uid, entries, json.loads(opened.stdout)


def _container_waiting(client: str, name: str, waiting_glob: str) -> bool:
    return _docker(client, "exec", name, "sh", "-c", f"cat {waiting_glob}").stdout.strip().isdigit()


def _our_containers(client: str) -> list[str]:
    names = _docker(client, "ps", "--filter", "label=unet-grader=1", "--format", "{{.Names}}").stdout.split()
    return [n for n in names if n.startswith(f"unet-grader-{os.getpid()}-")]


@needs_root
@pytest.mark.docker
@pytest.mark.slow
def test_container_path_nothing_the_grader_wrote_is_open_to_the_kernel(unet_course: Path, docker_client: str,
                                                                       grading_image: str) -> None:
    opts = containers.Options(image=grading_image, docker=docker_client)
    thread, out = _in_thread(lambda: grade.run(course=Course.open(unet_course), assignment="unet", jobs=1,
                                               container=opts, progress=False, quiet=True))
    waiting = "/job/box/work/WAITING"
    name = _until(lambda: next((n for n in _our_containers(docker_client) if _container_waiting(docker_client, n, waiting)),
                               None), "waiting kernel", thread, out)
    try:
        uid, entries, opened = _in_container(docker_client, str(name), ["/job", "/tmp", "/home/grader"], waiting)
        assert "/job/job.json" in entries and "/job/template.db" in entries, entries
        assert opened == [], f"the kernel's uid {uid} can open: {opened}"
    finally:
        _docker(docker_client, "exec", str(name), "touch", "/job/box/work/GO")
        thread.join(WAIT_S + 600)
    assert "error" not in out, out
    assert [r["status"] for r in out["value"]] == ["graded"]


@needs_root
@pytest.mark.docker
@pytest.mark.slow
def test_gradescope_entry_nothing_the_grader_wrote_is_open_to_the_kernel(unet_course: Path, docker_client: str,
                                                                         grading_image: str, tmp_path: Path) -> None:
    upload, results = tmp_path / "upload", tmp_path / "results"
    upload.mkdir()
    results.mkdir(mode=0o777)
    nbformat.write(waiter_notebook(unet_course), upload / NOTEBOOK)
    name = f"unet-grader-probe-{os.getpid()}"
    locks = sandbox.uid_lock_folder()  # the kernel's uid claimed in the host's lock folder, as the LMS tests do
    locks.mkdir(mode=0o755, parents=True, exist_ok=True)
    proc = subprocess.Popen([docker_client, "run", "--rm", "--name", name, "--network", "none", "--read-only",
                             "--tmpfs", "/tmp", "--tmpfs", "/home/grader", "-v", f"{locks}:/tmp/unet-grader-uids",
                             "-v", f"{upload}:/autograder/submission:ro",
                             "-v", f"{results}:/autograder/results", grading_image, "/autograder/run_autograder"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    waiting = "/tmp/ag-*/*/box/work/WAITING"
    thread, out = _in_thread(proc.wait)
    _until(lambda: _container_waiting(docker_client, name, waiting), "waiting kernel", thread, out)
    try:
        uid, entries, opened = _in_container(docker_client, name, ["/tmp", "/home/grader", "/autograder/results"], waiting)
        assert any(e.endswith("/template.db") for e in entries) and any("/references/unet" in e for e in entries), entries
        assert opened == [], f"the kernel's uid {uid} can open: {opened}"
    finally:
        _docker(docker_client, "exec", name, "sh", "-c", "touch /tmp/ag-*/*/box/work/GO")
        try:
            proc.wait(timeout=WAIT_S + 600)
        finally:
            _docker(docker_client, "rm", "--force", name)
    assert proc.returncode == 0, proc.stdout.read() if proc.stdout else ""
    assert json.loads((results / "results.json").read_text())["score"] == 0
