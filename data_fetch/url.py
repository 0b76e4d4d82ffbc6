"""The ``url`` command: a zip or tar archive from a URL or a local file, checked, unpacked and normalised."""
from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from tqdm import tqdm

from .archive import unpack
from .discover import NoImagesError
from .errors import DataFetchError
from .normalize import normalize_tree
from .staging import check_destination, scratch_dir

REMOTE_SCHEMES = ("http", "https", "ftp", "sftp")
TIMEOUT_S = 60


def is_remote(source: str) -> bool:
    """Whether ``source`` is a URL that pooch downloads (rather than a local path)."""
    return urlparse(source).scheme.lower() in REMOTE_SCHEMES


def check_sha256(text: str) -> str:
    """The SHA-256 in lower case; raises DataFetchError unless it is 64 hexadecimal digits."""
    value = text.strip().lower()
    if value.startswith("sha256:"):
        value = value[len("sha256:"):]
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise DataFetchError(f"--sha256 {text!r} is not a SHA-256 (64 hexadecimal digits)",
                             "copy the checksum published with the archive, or compute it with `sha256sum FILE`")
    return value


def file_sha256(path: Path) -> str:
    """SHA-256 of the file at ``path``, read in chunks with a progress bar."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                          desc="checking sha256", disable=None, leave=False) as bar:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _mismatch(name: str, expected: str, actual: str | None) -> DataFetchError:
    found = f" but is {actual}" if actual else ""
    return DataFetchError(f"{name} should have SHA-256 {expected}{found}; nothing was unpacked",
                          "the file is incomplete, damaged or a different one: download it again, "
                          "or check the --sha256 value")


def download(url: str, expected: str, cache: Path) -> Path:
    """Download ``url`` into ``cache`` with pooch, returning the file once its SHA-256 matches.

    pooch streams into a temporary file and moves it into place only after the checksum matched, so an
    interrupted or wrong download never leaves a file that looks complete; rerunning starts afresh (and
    reuses a complete earlier download).
    """
    import pooch
    import requests

    logging.getLogger("pooch").setLevel(logging.WARNING)
    base = os.path.basename(unquote(urlparse(url).path)) or "archive"
    fname = f"{expected[:12]}-{re.sub(r'[^A-Za-z0-9._-]+', '_', base)}"
    downloader = pooch.HTTPDownloader(progressbar=True, timeout=TIMEOUT_S) if url.lower().startswith("http") \
        else None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        return Path(pooch.retrieve(url, known_hash=f"sha256:{expected}", fname=fname, path=cache,
                                   downloader=downloader, progressbar=downloader is None))
    except ValueError as error:
        if "hash" in str(error).lower():
            actual = re.search(r"\(([0-9a-f]{64})\)", str(error))
            raise _mismatch(url, expected, actual.group(1) if actual else None) from error
        raise DataFetchError(f"cannot download {url}: {error}", "check the URL") from error
    except requests.exceptions.RequestException as error:
        reason = type(error).__name__ if not str(error) else str(error).splitlines()[0][:200]
        raise DataFetchError(f"cannot download {url} ({reason})",
                             "check the URL and the network, or download the file yourself and pass its path") \
            from error


def run(*, source: str, sha256: str, dest: str | os.PathLike[str], force: bool = False,
        workers: int | None = None, cache: str | os.PathLike[str] | None = None) -> Path:
    """Fetch the archive ``source`` (URL or local path), check its SHA-256, unpack it and normalise it.

    Nothing is unpacked before the checksum matched. The archive is unpacked into a temporary folder beside
    ``dest`` (members escaping it, links and special files are refused) and normalised into ``dest``
    (all or nothing). Downloads are kept in ``cache`` (default: ``dest``'s parent/.downloads).

    Returns:
        The dataset folder.
    """
    expected = check_sha256(sha256)
    target = Path(dest).expanduser().absolute()
    check_destination(target, force)
    if is_remote(source):
        archive = download(source, expected, Path(cache) if cache else target.parent / ".downloads")
    else:
        archive = Path(source).expanduser().absolute()
        if not archive.is_file():
            raise DataFetchError(f"{archive} does not exist or is not a file",
                                 "check the path, or pass an http(s) URL")
        actual = file_sha256(archive)
        if actual != expected:
            raise _mismatch(str(archive), expected, actual)
    with scratch_dir(target, "unpack-") as unpacked:
        unpack(archive, unpacked)

        def display(path: Path) -> str:
            inside = path.relative_to(unpacked).as_posix() if path.is_relative_to(unpacked) else str(path)
            return f"{archive.name}:{inside}" if inside != "." else archive.name

        try:
            return normalize_tree(unpacked, target, force=force, workers=workers, display=display,
                                  origin={"command": "url", "source": source, "archive_sha256": expected})
        except NoImagesError as error:
            raise DataFetchError(f"{archive.name} holds no CameraRGB/ images ({error.what})",
                                 "this archive is not the CARLA dataset; check the URL or file") from error
