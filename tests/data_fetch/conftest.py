"""Fixtures for the data_fetch tests: tiny CARLA-layout trees, archives and a local HTTP server."""
from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_fetch.scenes import render_scene

WIDTH, HEIGHT = 48, 32  # tiny frames keep every test fast


def write_source(root: Path, parts: tuple[str, ...] = ("dataA", "dataB"), frames: int = 2, nested: bool = True,
                 mask_folder: str = "CameraSeg", id_in: str = "all") -> Path:
    """A download in the Kaggle layout: root/dataX/dataX/CameraRGB + CameraSeg, same file names in each part.

    ``id_in``: "all" (id in R, G and B, like CameraSeg), "red" (G and B zero) or "gray" (one channel).
    """
    for p, part in enumerate(parts):
        folder = root / part / part if nested else root / part
        (folder / "CameraRGB").mkdir(parents=True)
        (folder / mask_folder).mkdir()
        for k in range(frames):
            image, ids = render_scene(100 + p, k, WIDTH, HEIGHT)
            name = f"02_00_{k:03d}.png"
            Image.fromarray(image).save(folder / "CameraRGB" / name)
            if id_in == "all":
                mask = np.stack([ids, ids, ids], axis=-1)
            elif id_in == "red":
                mask = np.stack([ids, np.zeros_like(ids), np.zeros_like(ids)], axis=-1)
            else:
                mask = ids
            Image.fromarray(mask).save(folder / mask_folder / name)
    return root


def make_archive(source: Path, path: Path) -> Path:
    """Pack the folder ``source`` (as a top folder of its own name) into ``path`` (.zip or .tar.gz)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as bundle:
            for file in sorted(source.rglob("*")):
                bundle.write(file, file.relative_to(source.parent).as_posix())
    else:
        with tarfile.open(path, "w:gz") as bundle:
            bundle.add(source, arcname=source.name)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_files(root: Path) -> list[str]:
    """Every path under ``root`` (relative), hidden ones included: to check that nothing was left behind."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def source_tree(tmp_path: Path) -> Callable[..., Path]:
    """``source_tree(**options)`` writes a small Kaggle-layout download under tmp_path and returns it."""
    counter = iter(range(1000))

    def make(**options: object) -> Path:
        return write_source(tmp_path / f"download{next(counter)}", **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def helpers() -> dict[str, Callable[..., object]]:
    return {"make_archive": make_archive, "sha256": sha256, "tree_files": tree_files,
            "write_source": write_source}


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    timeout = 120  # a stuck client cannot hold the server thread for ever (a slow one on a busy machine still gets served)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        name = self.path.lstrip("/")
        if name.startswith("cut/"):  # announce the whole file, send half of it, hang up
            body = self.files.get(name[4:], b"")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A local HTTP server on 127.0.0.1 serving the bytes put in the returned dict under their names.

    ``/cut/NAME`` serves NAME with its full Content-Length but only half the body.
    """
    files: dict[str, bytes] = {}
    handler = type("Handler", (_Handler,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must never go through a proxy configured on the machine."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()
