"""Root never acts through a path the kernel controls: links a kernel leaves in its box are never followed.

The grading test plants links from inside a kernel (the first notebook of a two-notebook submission), then
lets the worker copy the data files for the second notebook, start its kernel and clean up, as root:
nothing outside the box changes, and the second notebook keeps its grade.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat
import pytest
import toy

from autograder.course.directory import Course
from autograder.host import grade
from autograder.sandbox import boxfs
from autograder.sandbox import limits as sandbox

SITE = sandbox.site_packages()[0]
#: Stands for the root-owned file a kernel points a data file at. A file of the test's own (not /etc/passwd, which
#: the tests that add users change while this one runs).
WITNESS = "{witness}"
#: Folders in which none of the names root writes in a box may appear, and whose mode and owner must not change.
WATCHED_DIRS = ["/", "/etc", "/root", SITE]
#: What the worker writes in a box (data files, the connection file) and what the tests plant.
BOX_NAMES = ["data.txt", "files", "x.txt", "kernel.json", "k-1", "planted"]

_PLANT = """
import os, time
box = os.path.dirname(os.getcwd())  # the kernel runs in <box>/work
links = {links!r}
for rel, target in links.items():
    path = os.path.join(box, rel)
    if os.path.isdir(path) and not os.path.islink(path):
        os.rename(path, f'{{path}}.old{{time.time_ns()}}')
    elif os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)
print('PLANTED', sorted(links))
"""
#: The two ways a kernel can point root elsewhere: its folders become links, or files and folders in ``work`` do.
SCENARIOS = {
    "box-folders": {"work": "/", "run": "/etc", "home": "/root", "tmp": SITE},
    "work-entries": {"work/data.txt": WITNESS, "work/files": SITE, "run/kernel.json": "/etc/planted"},
}


def _fingerprint(watched_files: list[str]) -> dict[str, object]:
    files = {}
    for path in watched_files:
        st = os.stat(path)
        files[path] = (hashlib.sha256(Path(path).read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size)
    present = {d: sorted(n for n in BOX_NAMES if os.path.lexists(os.path.join(d, n))) for d in WATCHED_DIRS}
    owners = {p: (st.st_mode, st.st_uid, st.st_gid) for p in [*WATCHED_DIRS, *watched_files] for st in [os.stat(p)]}
    return {"files": files, "present": present, "modes and owners": owners}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_links_planted_by_a_kernel_are_never_followed_by_root(course: Path, small_limits: sandbox.Limits,
                                                              scenario: str, tmp_path: Path) -> None:
    witness = tmp_path / "witness.txt"
    witness.write_text("root's own file\n")
    links = {rel: target.replace(WITNESS, str(witness)) for rel, target in SCENARIOS[scenario].items()}
    toy.add_two_notebook_assignment(course)
    toy.submit_two(course, "planter", {nb: "answer = 42" for nb in toy.TWO_NOTEBOOKS}, last_cell=_PLANT.format(links=links))
    watched = [str(witness)]
    before = _fingerprint(watched)
    rows = grade.run(course=Course.open(course), assignment=toy.TWO, jobs=1, limits=small_limits, progress=False,
                     quiet=True, plot=False)
    assert _fingerprint(watched) == before
    outputs = ""
    for name in toy.TWO_NOTEBOOKS:
        nb = nbformat.read(course / "autograded" / "planter" / toy.TWO / f"{name}.ipynb", as_version=4)
        outputs += str([c.get("outputs") for c in nb.cells])
    assert outputs.count("PLANTED") == 2, outputs  # both notebooks planted: the one graded second ran after a planting
    (row,) = rows
    assert (row["status"], float(row["score"])) == ("graded", 2.0), row


def test_copies_and_folders_replace_links_instead_of_following_them(tmp_path: Path) -> None:
    """boxfs: a copy into a box whose folders and files are links writes real files in the box, nothing outside."""
    outside, src, box = tmp_path / "outside", tmp_path / "src", tmp_path / "box"
    outside.mkdir()
    (outside / "victim.txt").write_text("VICTIM")
    (src / "files").mkdir(parents=True)
    (src / "data.txt").write_text("DATA")
    (src / "files" / "x.txt").write_text("X")
    (src / "nb.ipynb").write_text("{}")
    uid = 63997 if sandbox.is_root() else os.getuid()
    sandbox.make_box(box, uid)
    (box / "work" / "data.txt").symlink_to(outside / "victim.txt")
    (box / "work" / "files").symlink_to(outside)
    (box / "run").rmdir()
    (box / "run").symlink_to(outside)
    assert boxfs.copy_tree(src, box, "work", uid) == 2
    boxfs.reset_dir(box, "run", uid)
    assert (outside / "victim.txt").read_text() == "VICTIM" and sorted(os.listdir(outside)) == ["victim.txt"]
    for path, text in ((box / "work" / "data.txt", "DATA"), (box / "work" / "files" / "x.txt", "X")):
        assert not path.is_symlink() and not path.parent.is_symlink() and path.read_text() == text
        assert path.stat().st_uid == uid
    assert not (box / "run").is_symlink() and (box / "run").is_dir() and os.listdir(box / "run") == []
    assert not (box / "work" / "nb.ipynb").exists()
    # the whole work folder a link: replaced by a real one, the link's target untouched
    os.rename(box / "work", box / "work.old")
    (box / "work").symlink_to(outside)
    boxfs.copy_tree(src, box, "work", uid)
    assert sorted(os.listdir(outside)) == ["victim.txt"] and (box / "work" / "data.txt").read_text() == "DATA"
    # a removal through a folder that became a link touches nothing
    boxfs.remove_in(box, "work.old", "victim.txt")
    (box / "work.old").rename(box / "elsewhere")
    (box / "work.old").symlink_to(outside)
    boxfs.remove_in(box, "work.old", "victim.txt")
    assert (outside / "victim.txt").exists()
    # the box itself must be a real folder
    (tmp_path / "linked-box").symlink_to(box)
    with pytest.raises(boxfs.BoxError):
        boxfs.open_box(tmp_path / "linked-box")
