"""Train a lesson's model once and load it on the next *Run All* (``fit_or_load``).

A trained model is saved as ``<folder>/<name>.keras`` with its training history in
``<folder>/history_<name>.json``. The history file also holds a fingerprint of what was trained (the model's
architecture, the lesson's settings, the Keras and TensorFlow versions) and the SHA-256 of the model file; the
saved model is used only when all of them match. Both names are in ``c.CourseDirectory.ignore`` and
``.gitignore``, so they never reach a release or a submission. While nbgrader runs a notebook
(``NBGRADER_EXECUTION`` is set) the model is always trained and nothing is written.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

GRADING_ENV = "NBGRADER_EXECUTION"
MAX_HISTORY_BYTES = 4 * 1024 * 1024
"""A history file larger than this is not one we wrote; it is ignored (and the model retrained)."""

__all__ = ["GRADING_ENV", "fingerprint", "fit_or_load"]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _architecture(model: Any) -> Any:
    """The model's architecture (with its compile settings) as JSON data, every name replaced by its order of
    first appearance.

    Keras numbers automatic names per kernel (``conv2d_7``, ``adam_1``), so the same architecture built again
    after a check cell was rerun would otherwise look different; which layer feeds which is kept."""
    config = json.loads(model.to_json())
    names: dict[str, str] = {}

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("name"), str):
                names.setdefault(value["name"], f"name_{len(names)}")
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: rename(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rename(item) for item in value]
        if isinstance(value, str):
            return names.get(value, value)
        return value

    collect(config)
    return rename(config)


def fingerprint(model: Any, settings: Mapping[str, Any]) -> dict[str, str]:
    """What a saved model must match to be loaded: architecture (with the compile settings), the lesson's
    settings, and the Keras and TensorFlow versions. Each part is a short digest or a version string."""
    import keras
    import tensorflow as tf

    return {
        "architecture": _digest(_architecture(model)),
        "settings": _digest(dict(settings)),
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
    }


_WHAT = {"architecture": "another architecture", "settings": "other settings",
         "keras": "another Keras version", "tensorflow": "another TensorFlow version"}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_saved(history_path: Path) -> dict[str, Any] | None:
    """The saved record, or None when the file is missing, too large or not one we wrote (untrusted input)."""
    try:
        if history_path.stat().st_size > MAX_HISTORY_BYTES:
            return None
        record = json.loads(history_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not (isinstance(record, dict) and isinstance(record.get("fingerprint"), dict)
            and isinstance(record.get("model_sha256"), str) and isinstance(record.get("history"), dict)):
        return None
    history = record["history"]
    if not all(isinstance(key, str) and isinstance(values, list)
               and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
               for key, values in history.items()):
        return None
    return record


def _mismatch(record: dict[str, Any] | None, want: dict[str, str], model_path: Path) -> str | None:
    """Why the saved model cannot be used (a few words), or None when it can."""
    if record is None:
        return "its history file is unreadable"
    differing = [part for part in want if record["fingerprint"].get(part) != want[part]]
    if differing:
        return "was trained with " + " and ".join(_WHAT[part] for part in differing)
    if _file_sha256(model_path) != record["model_sha256"]:
        return "its model file was changed after saving"
    return None


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through ``write(temporary)`` next to ``path``, then rename: a crash never leaves half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; the saved files are ordinary files
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _plain_history(history: Any) -> dict[str, list[float]]:
    raw = getattr(history, "history", history)
    if not isinstance(raw, Mapping):
        raise TypeError("fit() must return the Keras History (or its .history dict)")
    return {str(key): [float(value) for value in values] for key, values in raw.items()}


def _save(model: Any, history: dict[str, list[float]], want: dict[str, str],
          model_path: Path, history_path: Path) -> None:
    model_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(model_path, lambda temporary: model.save(temporary))
    record = {"fingerprint": want, "model_sha256": _file_sha256(model_path), "history": history}
    # The history is written last: it names the model file's checksum, so a model without it is never loaded.
    _atomic_write(history_path, lambda temporary: temporary.write_text(json.dumps(record), encoding="utf-8"))


def fit_or_load(model: Any, fit: Callable[[], Any], *, name: str, settings: Mapping[str, Any],
                folder: str | os.PathLike[str] = ".", retrain: bool = False) -> dict[str, list[float]]:
    """Train ``model`` with ``fit()`` and save it, or load the weights saved by an earlier identical run.

    ``fit`` takes no argument, trains ``model`` and returns its Keras ``History``. The result is the history
    dict (``{"loss": [...], ...}``) either way. A saved model is loaded only when ``retrain`` is false, the
    notebook is not being graded, and the fingerprint (see ``fingerprint``) and the model file's checksum
    match; otherwise the model is trained (saying why, when a saved model was not used) and saved.
    """
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"name must be a plain file name stem, not {name!r}")
    grading = bool(os.environ.get(GRADING_ENV))
    directory = Path(folder)
    model_path, history_path = directory / f"{name}.keras", directory / f"history_{name}.json"
    if grading:
        return _plain_history(fit())

    want = fingerprint(model, settings)
    if not retrain and model_path.is_file() and history_path.is_file():
        record = _read_saved(history_path)
        why = _mismatch(record, want, model_path)
        if why is None and record is not None:
            try:
                optimizer = getattr(model, "optimizer", None)
                if optimizer is not None and not optimizer.built:
                    # Built, it takes its saved state too (Keras warns and skips it for an unbuilt one).
                    optimizer.build(model.trainable_variables)
                model.load_weights(model_path)
            except Exception as error:  # whatever Keras raises for a file it cannot read: train instead
                why = f"it could not be read ({type(error).__name__})"
            else:
                print(f"Loaded the trained model from {model_path} instead of training "
                      "(set RETRAIN = True to train again).")
                return {key: [float(v) for v in values] for key, values in record["history"].items()}
        print(f"The saved model {model_path} {why}: retraining." if why.startswith("was trained")
              else f"The saved model {model_path} cannot be used ({why}): retraining.")
    history = _plain_history(fit())
    try:
        _save(model, history, want, model_path, history_path)
    except OSError as error:  # a full disk or a read-only folder must not throw away the training just done
        print(f"The trained model could not be saved in {directory} ({error.strerror or error}); "
              "the next Run All will train again.")
    return history
