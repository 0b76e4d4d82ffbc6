"""The sandbox keeps the kit's packages and data visible, wherever the kit lives (also under /tmp)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.course.settings import Autograder
from autograder.sandbox import limits as sandbox


def test_kit_packages_and_data_are_kept(course_root: Path, monkeypatch) -> None:
    monkeypatch.delenv("UNET_DATA_DIR", raising=False)
    kept = sandbox.kit_paths()
    for folder in ("test_utils", "data_fetch"):
        assert str((course_root / folder).resolve()) in kept
    if (course_root / "data").is_dir():
        assert str((course_root / "data").resolve()) in kept


def test_data_dir_from_the_environment_is_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path))
    assert os.path.realpath(tmp_path) in sandbox.kit_paths()
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path / "missing"))
    assert os.path.realpath(tmp_path / "missing") not in sandbox.kit_paths()


def test_two_runs_on_one_machine_never_share_a_sandbox_uid(tmp_path: Path) -> None:
    """Each run kills what its kernels' uids still run: a uid another run holds must not be handed out."""
    import subprocess
    import sys

    from autograder.sandbox.limits import UidClaims

    first, second = UidClaims(61000, tmp_path), UidClaims(61000, tmp_path)
    assert [first.uid(0), first.uid(1), first.uid(0)] == [61000, 61001, 61000]
    assert [second.uid(0), second.uid(1)] == [61002, 61003]
    # another process sees the same claims
    probe = ("import sys; from pathlib import Path; from autograder.sandbox.limits import UidClaims; "
             f"print(UidClaims(61000, Path({str(tmp_path)!r})).uid(0))")
    other = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[3])
    assert other.stdout.strip() == "61004"
    first.release()
    third = UidClaims(61000, tmp_path)
    assert third.uid(5) == 61000
    third.release()
    second.release()
    tight = UidClaims(61000, tmp_path, span=1)
    tight.uid(0)
    with pytest.raises(RuntimeError, match="no free sandbox uid"):
        UidClaims(61000, tmp_path, span=1).uid(0)


def test_the_view_holds_the_listed_paths_also_under_tmp_and_nothing_beside_them(tmp_path: Path) -> None:
    """Paths under /tmp survive the kernel's private /tmp; a sibling of a listed folder does not exist for it."""
    import json
    import subprocess
    import sys

    shown, hidden = tmp_path / "kit", tmp_path / "secret"
    for folder in (shown, hidden):
        folder.mkdir()
        (folder / "file.txt").write_text("content")
    # (pytest's folders are 0700: in the view, the folders above a listed path are new and passable)
    uid = 63990 if sandbox.is_root() else os.getuid()
    box = tmp_path / "box"
    sandbox.make_box(box, uid)
    rules = sandbox.policy(limits=Autograder().limits(), slot=0, box=box, cgroup_procs=[], uid=uid)
    rules.ro.append(str(shown))
    rules.write(tmp_path / "policy.json")
    program = ("import json, os\nout = {}\nfor p in %r:\n    try:\n        out[p] = open(p).read()\n"
               "    except OSError as e:\n        out[p] = type(e).__name__\n"
               "try:\n    open(%r, 'w')\n    out['write'] = 'wrote'\nexcept OSError as e:\n    out['write'] = type(e).__name__\n"
               "print(json.dumps(out))") % ([str(shown / "file.txt"), str(hidden / "file.txt")], str(shown / "new.txt"))
    done = subprocess.run([sys.executable, "-I", str(sandbox.LAUNCHER), str(tmp_path / "policy.json"), "--",
                           sys.executable, "-I", "-c", program], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen[str(shown / "file.txt")] == "content" and seen[str(hidden / "file.txt")] == "FileNotFoundError", seen
    assert seen["write"] != "wrote" and not (shown / "new.txt").exists()
