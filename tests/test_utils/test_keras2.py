"""Re-run every test in this folder under Keras 2 (tf-keras).

``TF_USE_LEGACY_KERAS=1`` only takes effect if it is set before TensorFlow is imported, so it
cannot be switched on inside this process: the Keras-agnostic tests run again in a subprocess.
``test_summary.py::test_runs_under_the_keras_the_environment_selects`` proves the subprocess
really used tf-keras.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
# Not marked slow: a second TensorFlow start-up plus the folder takes about 6 s.


@pytest.mark.skipif(os.environ.get("TF_USE_LEGACY_KERAS") == "1", reason="already running under Keras 2")
def test_whole_folder_passes_under_keras2() -> None:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "NO_COLOR": ""}
    command = [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider",
               f"--ignore={Path(__file__).resolve()}", "-W", "ignore::DeprecationWarning"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 50, tail
    assert "failed" not in result.stdout.splitlines()[-1], tail
