"""The ``kaggle`` command: the Lyft/Udacity CARLA set from Kaggle, with the user's own credentials."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import DataFetchError
from .normalize import normalize_tree
from .staging import check_destination

HANDLE = "kumaresanmanickavelu/lyft-udacity-challenge"
"""The public Kaggle copy of the CARLA frames (dataA..dataE, CameraRGB + CameraSeg)."""

CREDENTIALS_HELP = ("create an API token at kaggle.com (Settings, API), save it as ~/.kaggle/kaggle.json or set "
                    "KAGGLE_USERNAME and KAGGLE_KEY, then run again")
OFFLINE_HELP = ("check the network; offline, make the synthetic set (`python -m data_fetch synthetic --frames 240 "
                "--dest data/synthetic`) or use `url` with a copy of the archive")


def fetch(handle: str) -> Path:
    """Download (or reuse kagglehub's cached copy of) ``handle`` and return the unpacked folder."""
    try:
        import kagglehub
        import requests
        from kagglehub import exceptions as kx
    except ImportError as error:
        raise DataFetchError(f"the kagglehub package is not installed ({error.name})",
                             "install the kit's dependencies (`make setup`)") from error
    try:
        return Path(kagglehub.dataset_download(handle))
    except (kx.UnauthenticatedError, kx.CredentialError) as error:
        raise DataFetchError(f"Kaggle did not accept your credentials for {handle}", CREDENTIALS_HELP) from error
    except kx.KaggleApiHTTPError as error:
        status = getattr(error.response, "status_code", None)
        if status in (401, 403):
            raise DataFetchError(f"Kaggle refused access to {handle} (HTTP {status})", CREDENTIALS_HELP) from error
        raise DataFetchError(f"Kaggle could not provide {handle} (HTTP {status}: {error})",
                             "check the dataset name and try again later") from error
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
        raise DataFetchError(f"cannot reach Kaggle to download {handle}", OFFLINE_HELP) from error
    except (kx.NotFoundError, kx.BackendError, kx.DataCorruptionError) as error:
        raise DataFetchError(f"Kaggle could not provide {handle} ({type(error).__name__}: {error})",
                             "check the dataset name, or delete kagglehub's cache (~/.cache/kagglehub) and retry") \
            from error


def run(*, dest: str | os.PathLike[str], force: bool = False, workers: int | None = None,
        handle: str = HANDLE) -> Path:
    """Download the Kaggle dataset ``handle`` with kagglehub and normalise it into ``dest``.

    Uses the user's Kaggle credentials (``~/.kaggle/kaggle.json`` or ``KAGGLE_USERNAME``/``KAGGLE_KEY``);
    without them, or without a network, raises DataFetchError saying what to do.

    Returns:
        The dataset folder.
    """
    target = Path(dest).expanduser().absolute()
    check_destination(target, force)
    source = fetch(handle)
    return normalize_tree(source, target, force=force, workers=workers,
                          origin={"command": "kaggle", "handle": handle})
