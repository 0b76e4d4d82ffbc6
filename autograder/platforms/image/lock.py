"""Resolve the grading image's packages into a pinned lock file: ``python lock.py cpu|gpu``.

pip resolves ``requirements.in`` plus the TensorFlow of the chosen build without installing
anything (``--dry-run --report``); every resolved package is written as ``name==version``.
``make image-lock`` runs it for both builds.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TENSORFLOW = {"cpu": "tensorflow-cpu==2.21.0", "gpu": "tensorflow[and-cuda]==2.21.0"}


def resolve(build: str) -> list[str]:
    """Pinned ``name==version`` lines for one build, sorted by name."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                        "--report", str(report), "-r", str(HERE / "requirements.in"), TENSORFLOW[build]], check=True)
        items = json.loads(report.read_text())["install"]
    pins = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in items}
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def main(argv: list[str]) -> int:
    """Write ``requirements-<build>.lock`` beside this file."""
    if len(argv) != 2 or argv[1] not in TENSORFLOW:
        print("Error: name the build: python autograder/platforms/image/lock.py cpu|gpu", file=sys.stderr)
        return 2
    build = argv[1]
    header = f"# Grading image ({build}): every package pinned. Regenerate with: make image-lock\n"
    (HERE / f"requirements-{build}.lock").write_text(header + "\n".join(resolve(build)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
