"""The real-data path: an archive in the Kaggle layout from a local HTTP server (or a local file)."""
from __future__ import annotations

import json

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import data_fetch
from data_fetch import url
from data_fetch.errors import DataFetchError
from data_fetch.manifest import MANIFEST


@pytest.fixture
def kaggle_archive(tmp_path: Path, helpers: dict[str, Any]) -> Callable[[str], Path]:
    """``kaggle_archive(".zip" | ".tar.gz")``: the Kaggle layout (lyft/dataA/dataA/CameraSeg ...) packed."""
    def make(suffix: str) -> Path:
        src = helpers["write_source"](tmp_path / f"src{suffix}" / "lyft", parts=("dataA", "dataB", "dataC"))
        return helpers["make_archive"](src, tmp_path / f"carla{suffix}")
    return make


def _left_over(folder: Path, dest_name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{dest_name}") or p.name == dest_name)


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_download_check_unpack_normalise(tmp_path: Path, http_server: tuple[str, dict[str, bytes]],
                                         kaggle_archive: Callable[[str], Path], helpers: dict[str, Any],
                                         suffix: str) -> None:
    base, files = http_server
    archive = kaggle_archive(suffix)
    files[archive.name] = archive.read_bytes()
    digest = helpers["sha256"](archive)
    dest = url.run(source=f"{base}/{archive.name}", sha256=digest, dest=tmp_path / "data" / "carla", workers=1)
    images, masks = data_fetch.list_pairs(dest)
    assert len(images) == 6
    assert Path(images[0]).name == "dataA_02_00_000.png"
    manifest = json.loads((dest / MANIFEST).read_text())
    assert manifest["source"]["archive_sha256"] == digest
    # The download is kept (complete, checked) for the next run; the unpacked copy is gone.
    assert [p.name for p in (tmp_path / "data" / ".downloads").iterdir()] == [f"{digest[:12]}-{archive.name}"]
    assert _left_over(tmp_path / "data", "carla") == ["carla"]


def test_wrong_checksum_unpacks_nothing(tmp_path: Path, http_server: tuple[str, dict[str, bytes]],
                                        kaggle_archive: Callable[[str], Path]) -> None:
    base, files = http_server
    archive = kaggle_archive(".zip")
    files["carla.zip"] = archive.read_bytes()
    with pytest.raises(DataFetchError) as error:
        url.run(source=f"{base}/carla.zip", sha256="0" * 64, dest=tmp_path / "data" / "carla", workers=1)
    assert "should have SHA-256" in str(error.value) and "carla.zip" in str(error.value)
    assert _left_over(tmp_path / "data", "carla") == []
    cache = tmp_path / "data" / ".downloads"
    assert not cache.exists() or list(cache.iterdir()) == []  # no file that looks like a complete download


def test_truncated_download_leaves_nothing_and_can_be_retried(
        tmp_path: Path, http_server: tuple[str, dict[str, bytes]], kaggle_archive: Callable[[str], Path],
        helpers: dict[str, Any]) -> None:
    base, files = http_server
    archive = kaggle_archive(".tar.gz")
    files["carla.tar.gz"] = archive.read_bytes()
    digest = helpers["sha256"](archive)
    dest = tmp_path / "data" / "carla"
    with pytest.raises(DataFetchError, match="cannot download"):
        url.run(source=f"{base}/cut/carla.tar.gz", sha256=digest, dest=dest, workers=1)
    assert _left_over(tmp_path / "data", "carla") == []
    cache = tmp_path / "data" / ".downloads"
    assert not cache.exists() or list(cache.iterdir()) == []
    # Rerunning with a good connection just works.
    url.run(source=f"{base}/carla.tar.gz", sha256=digest, dest=dest, workers=1)
    assert len(data_fetch.list_pairs(dest)[0]) == 6


def test_truncated_archive_with_matching_checksum(tmp_path: Path, http_server: tuple[str, dict[str, bytes]],
                                                  kaggle_archive: Callable[[str], Path],
                                                  helpers: dict[str, Any]) -> None:
    base, files = http_server
    archive = kaggle_archive(".tar.gz")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
    files["cut.tar.gz"] = cut.read_bytes()
    with pytest.raises(DataFetchError, match="truncated or corrupt"):
        url.run(source=f"{base}/cut.tar.gz", sha256=helpers["sha256"](cut), dest=tmp_path / "data" / "carla")
    assert _left_over(tmp_path / "data", "carla") == []


def test_missing_url(tmp_path: Path, http_server: tuple[str, dict[str, bytes]]) -> None:
    base, _ = http_server
    with pytest.raises(DataFetchError, match="404"):
        url.run(source=f"{base}/nope.zip", sha256="a" * 64, dest=tmp_path / "carla")


def test_archive_without_images(tmp_path: Path, helpers: dict[str, Any]) -> None:
    junk = tmp_path / "junk"
    (junk / "docs").mkdir(parents=True)
    (junk / "docs" / "readme.txt").write_text("hello")
    archive = helpers["make_archive"](junk, tmp_path / "junk.zip")
    with pytest.raises(DataFetchError, match="junk.zip holds no CameraRGB"):
        url.run(source=str(archive), sha256=helpers["sha256"](archive), dest=tmp_path / "carla")
    assert not (tmp_path / "carla").exists()


def test_local_archive_and_its_errors(tmp_path: Path, kaggle_archive: Callable[[str], Path],
                                      helpers: dict[str, Any]) -> None:
    archive = kaggle_archive(".zip")
    digest = helpers["sha256"](archive)
    with pytest.raises(DataFetchError, match="64 hexadecimal"):
        url.run(source=str(archive), sha256="abc", dest=tmp_path / "carla")
    with pytest.raises(DataFetchError, match="does not exist"):
        url.run(source=str(tmp_path / "missing.zip"), sha256=digest, dest=tmp_path / "carla")
    with pytest.raises(DataFetchError, match="should have SHA-256"):
        url.run(source=str(archive), sha256="f" * 64, dest=tmp_path / "carla")
    dest = url.run(source=str(archive), sha256=digest.upper(), dest=tmp_path / "carla", workers=1)
    assert len(data_fetch.list_pairs(dest)[0]) == 6


def test_bad_mask_inside_archive_is_named_by_its_archive_path(tmp_path: Path, helpers: dict[str, Any]) -> None:
    import numpy as np
    from PIL import Image

    src = helpers["write_source"](tmp_path / "s" / "lyft")
    bad = src / "dataB" / "dataB" / "CameraSeg" / "02_00_000.png"
    Image.fromarray(np.full((32, 48, 3), 40, np.uint8)).save(bad)
    archive = helpers["make_archive"](src, tmp_path / "carla.zip")
    with pytest.raises(DataFetchError) as error:
        url.run(source=str(archive), sha256=helpers["sha256"](archive), dest=tmp_path / "carla", workers=1)
    assert "carla.zip:lyft/dataB/dataB/CameraSeg/02_00_000.png" in str(error.value)
    assert "class id 40" in str(error.value)
