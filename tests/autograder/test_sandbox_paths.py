"""The sandbox keeps the kit's packages and data visible, wherever the kit lives (also under /tmp)."""
from __future__ import annotations

import os
from pathlib import Path

from autograder import sandbox


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
