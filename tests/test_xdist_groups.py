"""tests/xdist_groups.py: the tests that share a service run in one xdist process, or the run says why not."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

PROJECT = {
    "pytest.ini": "[pytest]\nmarkers =\n    docker: d\n    browser: b\n",
    "test_docker.py": "import pytest\npytestmark = pytest.mark.docker\n\n"
                      "@pytest.mark.parametrize('i', range(6))\ndef test_d(i):\n    pass\n",
    "test_browser.py": "import pytest\n\n@pytest.mark.browser\n@pytest.mark.parametrize('i', range(4))\n"
                       "def test_b(i):\n    pass\n",
    "test_plain.py": "import pytest\n\n@pytest.mark.parametrize('i', range(8))\ndef test_p(i):\n    pass\n",
}
# xdist 3.8 with pytest 9.2 leaves the node ids untagged; this plugin does the same on purpose
UNTAG = ("import pytest\n\n@pytest.hookimpl(trylast=True)\ndef pytest_collection_modifyitems(items):\n"
         "    for item in items:\n        item._nodeid = item._nodeid.split('@')[0]\n")


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    for name, text in PROJECT.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["xdist_groups"' + "".join(f', "{e}"' for e in extra) + "]\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p",
                           "no:cacheprovider"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": os.pathsep.join([str(TESTS), str(tmp_path)]), "PATH": os.defpath})


def test_marked_tests_share_one_worker_per_group(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    ran = re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED (\S+)", done.stdout)
    assert len(ran) == 18, done.stdout
    workers = {group: {w for w, nodeid in ran if nodeid.endswith(f"@{group}")} for group in ("docker", "browser")}
    assert all(len(w) == 1 for w in workers.values()), workers
    assert sum(nodeid.endswith(("@docker", "@browser")) for _, nodeid in ran) == 10, ran


def test_lost_groups_stop_the_run_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "untag.py").write_text(UNTAG)
    done = _run(tmp_path, "untag")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pytest-xdist did not put 10 tests in their --dist loadgroup group" in done.stdout, done.stdout
    assert "1 error" in done.stdout and "passed" not in done.stdout, done.stdout
