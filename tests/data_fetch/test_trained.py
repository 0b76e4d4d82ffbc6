"""fit_or_load: train once, load on the next run when architecture, settings and versions match."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from data_fetch.trained import GRADING_ENV, fit_or_load  # noqa: E402

X = np.random.default_rng(0).random((16, 4)).astype("float32")
Y = np.random.default_rng(1).integers(0, 2, 16)
SETTINGS = {"epochs": 2, "batch_size": 8}


def _model(units: int = 3) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Trainer:
    """fit() for a model, counting how often it really trained."""

    def __init__(self, model: keras.Model, epochs: int = 2) -> None:
        self.model, self.epochs, self.calls = model, epochs, 0

    def __call__(self) -> keras.callbacks.History:
        self.calls += 1
        return self.model.fit(X, Y, epochs=self.epochs, batch_size=8, verbose=0)


def _run(folder: Path, model: keras.Model | None = None, settings: dict | None = None,
         retrain: bool = False) -> tuple[Trainer, dict]:
    trainer = Trainer(model if model is not None else _model())
    history = fit_or_load(trainer.model, trainer, name="tiny", settings=settings or SETTINGS, folder=folder,
                          retrain=retrain)
    return trainer, history


@pytest.fixture(autouse=True)
def _not_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GRADING_ENV, raising=False)


def test_second_run_loads_weights_and_history_without_warnings(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    first, history = _run(tmp_path)
    assert first.calls == 1 and set(history) == {"loss", "accuracy"} and len(history["loss"]) == 2
    assert (tmp_path / "tiny.keras").is_file() and (tmp_path / "history_tiny.json").is_file()
    assert not list(tmp_path.glob(".*")), "no temporary file is left behind"
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unbuilt optimizer makes Keras warn on load; it must not
        second, loaded = _run(tmp_path)
    assert second.calls == 0
    assert loaded == history
    assert "Loaded the trained model" in capsys.readouterr().out
    for got, want in zip(second.model.get_weights(), first.model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_a_changed_setting_architecture_or_flag_retrains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path)
    capsys.readouterr()
    changed, _ = _run(tmp_path, settings={**SETTINGS, "epochs": 3})
    assert changed.calls == 1
    assert "was trained with other settings: retraining" in capsys.readouterr().out
    other, _ = _run(tmp_path, model=_model(units=5), settings={**SETTINGS, "epochs": 3})
    assert other.calls == 1
    assert "was trained with another architecture: retraining" in capsys.readouterr().out
    forced, _ = _run(tmp_path, model=_model(units=5), retrain=True)
    assert forced.calls == 1
    again, _ = _run(tmp_path, model=_model(units=5))
    assert again.calls == 0


def test_layer_names_from_earlier_models_do_not_matter(tmp_path: Path) -> None:
    _run(tmp_path)
    for _ in range(3):
        _model()  # as if a check cell had been rerun: Keras's automatic names move on
    assert _run(tmp_path)[0].calls == 0


def test_another_keras_version_retrains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path)
    record_path = tmp_path / "history_tiny.json"
    record = json.loads(record_path.read_text())
    record["fingerprint"]["keras"] = "2.15.0"
    record_path.write_text(json.dumps(record))
    capsys.readouterr()
    assert _run(tmp_path)[0].calls == 1
    assert "another Keras version: retraining" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["not json", '{"fingerprint": 1}', "model"])
def test_damaged_saved_files_retrain(tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    _run(tmp_path)
    if damage == "model":
        (tmp_path / "tiny.keras").write_bytes(b"PK not a model")
    else:
        (tmp_path / "history_tiny.json").write_text(damage)
    capsys.readouterr()
    trainer, history = _run(tmp_path)
    assert trainer.calls == 1 and len(history["loss"]) == 2
    assert "cannot be used" in capsys.readouterr().out
    assert _run(tmp_path)[0].calls == 0, "the retrained model was saved again"


def test_while_grading_it_always_trains_and_never_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(tmp_path)
    before = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()}
    monkeypatch.setenv(GRADING_ENV, "1")
    assert _run(tmp_path)[0].calls == 1
    assert {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()} == before
    empty = tmp_path / "empty"
    empty.mkdir()
    _run(empty)
    assert not list(empty.iterdir())


def test_name_must_be_a_plain_stem(tmp_path: Path) -> None:
    trainer = Trainer(_model())
    with pytest.raises(ValueError):
        fit_or_load(trainer.model, trainer, name="../x", settings=SETTINGS, folder=tmp_path)
    assert trainer.calls == 0


def test_a_failed_save_keeps_the_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    trainer, history = _run(blocked)
    assert trainer.calls == 1 and len(history["loss"]) == 2
    assert "could not be saved" in capsys.readouterr().out
