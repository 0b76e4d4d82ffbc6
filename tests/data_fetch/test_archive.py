"""Unpacking refuses archives that would write outside their folder, links, and damaged files."""
from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from data_fetch.archive import unpack
from data_fetch.errors import DataFetchError


def _tar(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w") as bundle:
        for info in members:
            if info.isreg():
                info.size = len(data)
                bundle.addfile(info, io.BytesIO(data))
            else:
                bundle.addfile(info)
    return path


@pytest.mark.parametrize("name", ["../evil.png", "/tmp/evil.png", "a/../../evil.png", "C:/evil.png"])
def test_tar_paths_outside_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    archive = _tar(tmp_path / "bad.tar", [tarfile.TarInfo(name)])
    (tmp_path / "into").mkdir()
    with pytest.raises(DataFetchError, match="outside the folder"):
        unpack(archive, tmp_path / "into")
    assert not (tmp_path / "evil.png").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE])
def test_tar_links_and_special_files_are_refused(tmp_path: Path, kind: bytes) -> None:
    info = tarfile.TarInfo("data/CameraRGB/a.png")
    info.type = kind
    info.linkname = "/etc/passwd"
    archive = _tar(tmp_path / "bad.tar", [info])
    (tmp_path / "into").mkdir()
    with pytest.raises(DataFetchError, match="link|special"):
        unpack(archive, tmp_path / "into")


def test_zip_slip_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("data/CameraRGB/a.png", b"fine")
        bundle.writestr("../../evil.png", b"evil")
    (tmp_path / "into").mkdir()
    with pytest.raises(DataFetchError, match="zip-slip"):
        unpack(archive, tmp_path / "into")
    assert list((tmp_path / "into").iterdir()) == []


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo("data/CameraRGB")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(info, "/etc")
    (tmp_path / "into").mkdir()
    with pytest.raises(DataFetchError, match="symbolic link"):
        unpack(archive, tmp_path / "into")


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_truncated_archives(tmp_path: Path, suffix: str) -> None:
    payload = bytes(range(256)) * 4000
    archive = tmp_path / f"good{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("data/CameraRGB/a.png", payload)
    else:
        with tarfile.open(archive, "w:gz") as bundle:
            info = tarfile.TarInfo("data/CameraRGB/a.png")
            info.size = len(payload)
            bundle.addfile(info, io.BytesIO(payload))
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    (tmp_path / "into").mkdir()
    with pytest.raises(DataFetchError, match="truncated or corrupt"):
        unpack(cut, tmp_path / "into")


def test_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "page.html"
    bogus.write_text("<html>not found</html>")
    with pytest.raises(DataFetchError, match="not a zip or tar"):
        unpack(bogus, tmp_path)
