"""normalize: any CARLA download layout becomes one checked CameraRGB/ + CameraMask/ tree, or nothing."""
from __future__ import annotations

import json

import errno
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import data_fetch
from data_fetch import normalize, pngio
from data_fetch.errors import DataFetchError
from data_fetch.manifest import MANIFEST


def _ids(path: str | Path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.mark.parametrize("id_in", ["all", "red", "gray"])
def test_kaggle_layout_becomes_one_tree(tmp_path: Path, source_tree: Callable[..., Path], id_in: str) -> None:
    src = source_tree(id_in=id_in)
    dest = normalize.run(source=src, dest=tmp_path / "out", workers=1)
    images, masks = data_fetch.list_pairs(dest)
    names = [Path(p).name for p in images]
    # The same file names in dataA and dataB do not collide: each gets its folder as a prefix.
    assert names == ["dataA_02_00_000.png", "dataA_02_00_001.png", "dataB_02_00_000.png", "dataB_02_00_001.png"]
    for name in names:
        part, original = name.split("_", 1)
        out = _ids(dest / "CameraMask" / name)
        assert out.shape[-1] == 3 and not out[..., 1:].any()
        source_mask = _ids(src / part / part / "CameraSeg" / original)
        expected = source_mask if source_mask.ndim == 2 else source_mask[..., 0]
        np.testing.assert_array_equal(out[..., 0], expected)
        # Images are copied byte for byte.
        assert (dest / "CameraRGB" / name).read_bytes() == (src / part / part / "CameraRGB" / original).read_bytes()
    assert json.loads((dest / MANIFEST).read_text())["frames"] == 4


def test_flat_layout_with_camera_mask_and_parallel_workers(tmp_path: Path, source_tree: Callable[..., Path]) -> None:
    src = source_tree(parts=("dataC",), nested=False, mask_folder="CameraMask", frames=3)
    dest = normalize.run(source=src, dest=tmp_path / "out", workers=2)
    names = [Path(p).name for p in data_fetch.list_pairs(dest)[0]]
    assert names == ["02_00_000.png", "02_00_001.png", "02_00_002.png"]  # one part: nothing to prefix


def _expect_failure(src: Path, dest: Path, *fragments: str) -> str:
    with pytest.raises(DataFetchError) as error:
        normalize.run(source=src, dest=dest, workers=1)
    message = str(error.value)
    for fragment in fragments:
        assert fragment in message, message
    assert " — " in message and "\n" not in message
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}")] == []
    return message


def test_images_without_masks_and_masks_without_images(tmp_path: Path, source_tree: Callable[..., Path]) -> None:
    src = source_tree()
    (src / "dataB" / "dataB" / "CameraSeg" / "02_00_001.png").unlink()
    _expect_failure(src, tmp_path / "out", "02_00_001.png", "no mask")
    src = source_tree()
    (src / "dataA" / "dataA" / "CameraRGB" / "02_00_000.png").unlink()
    _expect_failure(src, tmp_path / "out", "02_00_000.png", "no image")


def test_mask_with_out_of_range_ids(tmp_path: Path, source_tree: Callable[..., Path]) -> None:
    src = source_tree()
    bad = src / "dataB" / "dataB" / "CameraSeg" / "02_00_001.png"
    mask = _ids(bad).copy()
    mask[0, :5] = 13
    Image.fromarray(mask).save(bad)
    _expect_failure(src, tmp_path / "out", str(bad), "class id 13", "0-12")


def test_image_and_mask_of_different_sizes(tmp_path: Path, source_tree: Callable[..., Path]) -> None:
    src = source_tree()
    bad = src / "dataA" / "dataA" / "CameraSeg" / "02_00_000.png"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(bad)
    _expect_failure(src, tmp_path / "out", str(bad), "10x10")


@pytest.mark.parametrize("folder", ["CameraRGB", "CameraSeg"])
@pytest.mark.parametrize("damage", ["header only", "half", "no end", "flipped byte"])
def test_damaged_png(tmp_path: Path, source_tree: Callable[..., Path], folder: str, damage: str) -> None:
    src = source_tree()
    bad = src / "dataA" / "dataA" / folder / "02_00_001.png"
    data = bad.read_bytes()
    middle = len(data) // 2
    bad.write_bytes({"header only": data[:40], "half": data[:middle], "no end": data[:-12],
                     "flipped byte": data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]}[damage])
    _expect_failure(src, tmp_path / "out", str(bad), "not a readable image")


def test_worker_errors_reach_the_caller_intact(tmp_path: Path, source_tree: Callable[..., Path]) -> None:
    src = source_tree(frames=3)
    bad = src / "dataB" / "dataB" / "CameraSeg" / "02_00_002.png"
    Image.fromarray(np.full((32, 48), 200, np.uint8)).save(bad)
    with pytest.raises(DataFetchError) as error:
        normalize.run(source=src, dest=tmp_path / "out", workers=2)
    assert str(bad) in error.value.what and "class id 200" in error.value.what
    assert error.value.todo
    assert not (tmp_path / "out").exists()


def test_non_png_and_palette_inputs_are_converted(tmp_path: Path, source_tree: Callable[..., Path]) -> None:
    src = source_tree(parts=("dataA",), nested=False, frames=2)
    image = src / "dataA" / "CameraRGB" / "02_00_000.png"
    Image.open(image).convert("RGBA").save(image)  # RGBA image: re-encoded as RGB
    mask = src / "dataA" / "CameraSeg" / "02_00_001.png"
    ids = np.asarray(Image.open(mask))[..., 0]
    Image.fromarray(ids).convert("P").save(mask)  # palette mask: the index is the id
    dest = normalize.run(source=src, dest=tmp_path / "out", workers=1)
    assert Image.open(dest / "CameraRGB" / "02_00_000.png").mode == "RGB"
    np.testing.assert_array_equal(_ids(dest / "CameraMask" / "02_00_001.png")[..., 0], ids)


def test_no_images_at_all(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "dataA" / "other").mkdir(parents=True)
    _expect_failure(src, tmp_path / "out", "no CameraRGB/")
    (src / "dataA" / "CameraRGB").mkdir()
    _expect_failure(src, tmp_path / "out", "CameraSeg/ or CameraMask/")
    (src / "dataA" / "CameraSeg").mkdir()
    _expect_failure(src, tmp_path / "out", "holds no PNG images")


def test_full_disk_gives_a_clean_message(tmp_path: Path, source_tree: Callable[..., Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    src = source_tree()
    real_open = open
    written = {"n": 0}

    def full_disk_open(path: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if "w" in mode:
            written["n"] += 1
            if written["n"] == 3:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(pngio, "open", full_disk_open, raising=False)
    message = _expect_failure(src, tmp_path / "out", "no space left on the device", "CameraRGB")
    assert "free some disk space" in message


def test_source_and_destination_checks(tmp_path: Path, source_tree: Callable[..., Path]) -> None:
    with pytest.raises(DataFetchError, match="is not a folder"):
        normalize.run(source=tmp_path / "missing", dest=tmp_path / "out")
    src = source_tree()
    with pytest.raises(DataFetchError, match="overwrite the source"):
        normalize.run(source=src, dest=src, force=True)
    existing = tmp_path / "existing"
    (existing / "keep").mkdir(parents=True)
    with pytest.raises(DataFetchError, match="--force"):
        normalize.run(source=src, dest=existing)
    assert (existing / "keep").is_dir()


def test_stale_work_folders_of_killed_runs_are_removed(tmp_path: Path, source_tree: Callable[..., Path]) -> None:
    stale = tmp_path / ".out.partial-999999999-abcd"  # no process has this id
    stale.mkdir()
    normalize.run(source=source_tree(), dest=tmp_path / "out", workers=1)
    assert not stale.exists()
