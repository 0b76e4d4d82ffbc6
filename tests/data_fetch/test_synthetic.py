"""The synthetic dataset: deterministic, in the real layout, labels in range, written all or nothing."""
from __future__ import annotations

import json

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import data_fetch
from data_fetch import synthetic
from data_fetch.errors import DataFetchError
from data_fetch.manifest import MANIFEST
from data_fetch.scenes import render_scene

SMALL = dict(width=64, height=48)


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_in_and_out_of_process(tmp_path: Path) -> None:
    one = synthetic.run(frames=3, dest=tmp_path / "one", seed=5, workers=1, **SMALL)
    two = synthetic.run(frames=3, dest=tmp_path / "two", seed=5, workers=2, **SMALL)
    other = synthetic.run(frames=3, dest=tmp_path / "other", seed=6, workers=1, **SMALL)
    assert _digests(one) == _digests(two)
    assert _digests(one) != _digests(other)


def test_scene_is_a_function_of_seed_and_index() -> None:
    image_a, ids_a = render_scene(3, 7, 96, 72)
    image_b, ids_b = render_scene(3, 7, 96, 72)
    np.testing.assert_array_equal(image_a, image_b)
    np.testing.assert_array_equal(ids_a, ids_b)
    assert not np.array_equal(render_scene(3, 8, 96, 72)[0], image_a)


def test_layout_sizes_and_label_ranges(tmp_path: Path) -> None:
    root = synthetic.run(frames=4, dest=tmp_path / "syn", seed=1, workers=1, **SMALL)
    images, masks = data_fetch.list_pairs(root)
    assert len(images) == 4
    for image_path, mask_path in zip(images, masks):
        image, mask = Image.open(image_path), Image.open(mask_path)
        assert image.mode == "RGB" and mask.mode == "RGB"
        assert image.size == mask.size == (64, 48)
        ids = np.asarray(mask)
        assert ids[..., 0].max() <= 12
        assert not ids[..., 1:].any()  # the id is in the red channel only
    manifest = json.loads((root / MANIFEST).read_text())
    assert manifest["frames"] == 4 and manifest["classes"] == list(data_fetch.CLASS_NAMES)
    assert [pair["image"] for pair in manifest["pairs"]] == [f"CameraRGB/{Path(p).name}" for p in images]
    for pair in manifest["pairs"]:
        assert hashlib.sha256((root / pair["image"]).read_bytes()).hexdigest() == pair["image_sha256"]
        assert hashlib.sha256((root / pair["mask"]).read_bytes()).hexdigest() == pair["mask_sha256"]
    assert sum(manifest["class_pixels"]) == 4 * 64 * 48


def test_scenes_use_every_class_and_colour_does_not_decide_the_class() -> None:
    seen = np.zeros(13, dtype=np.int64)
    colours_per_class: dict[int, set[tuple[int, ...]]] = {}
    for index in range(24):
        image, ids = render_scene(0, index, 200, 150)
        seen += np.bincount(ids.ravel(), minlength=13)
        quantised = (image // 32).reshape(-1, 3)
        for class_id in (1, 7, 8, 10, 11):
            colours_per_class.setdefault(class_id, set()).update(map(tuple, np.unique(quantised[ids.ravel() == class_id], axis=0)))
    assert (seen > 0).all(), f"classes never drawn: {np.flatnonzero(seen == 0)}"
    # Roads, sidewalks, buildings, walls and vehicles share colours: a per-pixel colour lookup cannot separate them.
    shared = colours_per_class[7] & colours_per_class[8] & colours_per_class[1] & colours_per_class[10]
    assert len(shared) >= 3


def test_existing_destination_is_refused_unless_forced(tmp_path: Path) -> None:
    root = synthetic.run(frames=1, dest=tmp_path / "syn", seed=0, workers=1, **SMALL)
    before = _digests(root)
    with pytest.raises(DataFetchError, match="--force"):
        synthetic.run(frames=2, dest=root, seed=1, workers=1, **SMALL)
    assert _digests(root) == before
    synthetic.run(frames=2, dest=root, seed=1, workers=1, force=True, **SMALL)
    assert json.loads((root / MANIFEST).read_text())["frames"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["syn"]  # no work folders left beside it


def test_an_empty_destination_folder_is_fine(tmp_path: Path) -> None:
    (tmp_path / "syn").mkdir()
    synthetic.run(frames=1, dest=tmp_path / "syn", workers=1, **SMALL)
    assert (tmp_path / "syn" / "manifest.json").is_file()


def test_a_failure_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = synthetic.render_scene

    def flaky(*args: int) -> tuple[np.ndarray, np.ndarray]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C half-way
        return real(*args)

    monkeypatch.setattr(synthetic, "render_scene", flaky)
    with pytest.raises(KeyboardInterrupt):
        synthetic.run(frames=5, dest=tmp_path / "syn", workers=1, **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(DataFetchError, match="at least 1"):
        synthetic.run(frames=0, dest=tmp_path / "syn")
    with pytest.raises(DataFetchError, match="too small"):
        synthetic.run(frames=1, dest=tmp_path / "syn", width=8, height=8)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataFetchError, match="not a folder"):
        synthetic.run(frames=1, dest=tmp_path / "file", force=True, **SMALL)
