"""The kaggle command, with kagglehub replaced: no network in tests."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import kagglehub
import pytest
import requests
from kagglehub import exceptions as kx

import data_fetch
from data_fetch import kaggle
from data_fetch.errors import DataFetchError


def test_downloaded_folder_is_normalised(tmp_path: Path, source_tree: Callable[..., Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    src = source_tree(parts=("dataA", "dataB", "dataC"))
    asked: list[str] = []
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle: asked.append(handle) or str(src))
    dest = kaggle.run(dest=tmp_path / "carla", workers=1)
    assert asked == [kaggle.HANDLE]
    assert len(data_fetch.list_pairs(dest)[0]) == 6


@pytest.mark.parametrize("error, fragment", [
    (requests.exceptions.ConnectionError("Name or service not known"), "cannot reach Kaggle"),
    (kx.UnauthenticatedError(), "credentials"),
    (kx.KaggleApiHTTPError("forbidden", response=type("R", (), {"status_code": 403})()), "HTTP 403"),
])
def test_no_network_or_no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception,
                                      fragment: str) -> None:
    def fail(handle: str) -> str:
        raise error

    monkeypatch.setattr(kagglehub, "dataset_download", fail)
    with pytest.raises(DataFetchError) as caught:
        kaggle.run(dest=tmp_path / "carla")
    assert fragment in str(caught.value)
    assert "kaggle.json" in str(caught.value) or "synthetic" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
