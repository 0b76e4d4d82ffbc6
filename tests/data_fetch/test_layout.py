"""Finding the dataset (dataset_dir) and pairing its files by name (list_pairs)."""
from __future__ import annotations

from pathlib import Path

import pytest

import data_fetch
from data_fetch import layout


def _dataset(root: Path, names: list[str], masks: list[str] | None = None) -> Path:
    (root / "CameraRGB").mkdir(parents=True)
    (root / "CameraMask").mkdir()
    for name in names:
        (root / "CameraRGB" / name).write_bytes(b"")
    for name in names if masks is None else masks:
        (root / "CameraMask" / name).write_bytes(b"")
    return root


def test_class_names_are_the_carla_labels() -> None:
    assert len(data_fetch.CLASS_NAMES) == 13
    assert data_fetch.CLASS_NAMES[0] == "none"
    assert data_fetch.CLASS_NAMES[7] == "roads"
    assert data_fetch.CLASS_NAMES[12] == "traffic signs"
    assert data_fetch.DATA_ENV == "UNET_DATA_DIR"


def test_dataset_dir_prefers_env_then_carla_then_synthetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "KIT_ROOT", tmp_path)
    monkeypatch.delenv("UNET_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError) as missing:
        data_fetch.dataset_dir()
    message = str(missing.value)
    assert "python -m data_fetch synthetic --frames 240 --dest data/synthetic" in message
    assert "make data" in message and "UNET_DATA_DIR" in message

    synthetic = _dataset(tmp_path / "data" / "synthetic", ["a.png"])
    assert data_fetch.dataset_dir() == synthetic
    (tmp_path / "data" / "carla").mkdir()  # an empty carla folder is not a dataset
    assert data_fetch.dataset_dir() == synthetic
    (tmp_path / "data" / "carla").rmdir()
    carla = _dataset(tmp_path / "data" / "carla", ["b.png"])
    assert data_fetch.dataset_dir() == carla

    elsewhere = _dataset(tmp_path / "mine", ["c.png"])
    monkeypatch.setenv("UNET_DATA_DIR", str(elsewhere))
    assert data_fetch.dataset_dir() == elsewhere
    monkeypatch.setenv("UNET_DATA_DIR", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="UNET_DATA_DIR"):
        data_fetch.dataset_dir()


def test_list_pairs_sorts_and_pairs_by_name(tmp_path: Path) -> None:
    names = ["b_10.png", "a_2.png", "c.png", "a_10.png"]
    root = _dataset(tmp_path / "d", names)
    (root / "CameraRGB" / "notes.txt").write_text("not an image")
    images, masks = data_fetch.list_pairs(root)
    assert [Path(p).name for p in images] == sorted(names)
    assert [Path(p).name for p in masks] == sorted(names)
    assert all(Path(p).parent.name == "CameraRGB" for p in images)
    assert all(Path(p).parent.name == "CameraMask" for p in masks)
    assert all(isinstance(p, str) for p in images + masks)


def test_list_pairs_names_unpaired_files(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "d", ["x1.png", "x2.png", "x3.png"], masks=["x1.png", "x3.png", "y9.png"])
    with pytest.raises(ValueError) as error:
        data_fetch.list_pairs(root)
    message = str(error.value)
    assert "x2.png" in message and "y9.png" in message
    assert isinstance(error.value, data_fetch.PairingError)


def test_list_pairs_missing_folder_or_empty(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="CameraRGB"):
        data_fetch.list_pairs(tmp_path)
    root = _dataset(tmp_path / "empty", [])
    with pytest.raises(FileNotFoundError, match="no PNG"):
        data_fetch.list_pairs(root)
