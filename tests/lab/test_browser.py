"""The student's seat in a real browser: JupyterLab from ``python -m autograder lab``, driven by Chromium.

A copy of the released notebook with the instructor's answers is opened in JupyterLab; the tests press
Run All, read every public check's output, and press nbgrader's Validate. The second test types one wrong
answer into an exercise cell through the editor first and expects the check's explanation (its cause first) and a
failed validation. Screenshots of every state go to the test's tmp folder; their paths are printed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import nbformat
import pytest

import service_logs
from autograder.instructor import examples

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "Image_segmentation_Unet.ipynb"
RELEASED = ROOT / "release" / "unet" / NOTEBOOK
SOLUTION = ROOT / "source" / "unet" / NOTEBOOK
TOKEN = "unet-lab-test-token"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
# Every wait is far above what the work takes on a busy machine (a whole test: under 2 min quiet, under 4 min at a
# load average near 10 on 2 cores); none of them decides a verdict while the lab works.
START_TIMEOUT = 300      # JupyterLab answering, in seconds
RUN_ALL_TIMEOUT = 900    # Run All: TensorFlow import, the checks, one short training epoch, the figures (15-60 s)
# Validate runs the whole notebook again, bounded by the course's settings (autograder/instructor/validate_bound.py:
# startup_timeout 120 s plus 30 s for the imports, then ValidateBound.total_timeout 1200 s), so the dialog always
# comes before this: with the answer (15-60 s), or with the bound's message, which the test then shows.
VALIDATE_TIMEOUT = 1500
UI_TIMEOUT_MS = 120_000  # one click, one element to appear
KERNEL_TIMEOUT_MS = 300_000  # a kernel starting on a busy machine
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab on show
PUBLIC_CHECK = "# Public check for Exercise"
PASSED = "All tests passed!"


@dataclass
class Lab:
    """A running JupyterLab: its base URL, the folder it serves, its log and process."""

    url: str
    notebooks: Path
    log: Path
    process: subprocess.Popen


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - 127.0.0.1 only
        return json.loads(answer.read().decode())


def _stop(process: subprocess.Popen, grace: float = 30) -> None:
    """Stop a process this test started, with its process group: SIGTERM, then SIGKILL after ``grace``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # what is left of its own session (kernels, server)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _notebook_with(example_name: str) -> nbformat.NotebookNode:
    """The released notebook with the answers of one example from autograder/instructor/examples.py."""
    example = next(e for e in examples.UNET_EXAMPLES if e.student == example_name)
    return examples.build_submission(example, RELEASED, examples.answer_sources(SOLUTION))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, dataset: Path, free_port: Callable[[], int],
        user_env: Callable[..., dict[str, str]]) -> Iterator[Lab]:
    """The student's JupyterLab (``python -m autograder lab``), fresh HOME, free port, token, quick training."""
    base = tmp_path_factory.mktemp("lab")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    port = free_port()
    env = user_env(base / "home", JUPYTER_TOKEN=TOKEN, UNET_QUICK_RUN="1")
    log = service_logs.folder("lab-browser") / "jupyterlab.log"  # kept after the run; .ci/run lists it
    command = [sys.executable, "-m", "autograder", "--root", str(ROOT), "lab", "--no-browser", "--port", str(port),
               "--notebook-dir", str(notebooks)]
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                _get_json(f"{url}/api/status?token={TOKEN}")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        print(f"JupyterLab log: {log}")
        yield Lab(url=url, notebooks=notebooks, log=log, process=process)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, chromium: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile (Playwright's sync API driving Debian's binary)."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(profile), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 1000}, timeout=UI_TIMEOUT_MS)
        context.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def _open(browser: Any, lab: Lab, folder: str, notebook: nbformat.NotebookNode) -> Any:
    """Write ``notebook`` (and its figures) to ``folder/`` of the lab and open it in a new tab.

    Waits (bounded) until every cell is rendered and the status bar says the kernel is idle.
    """
    shutil.copytree(RELEASED.parent, lab.notebooks / folder, ignore=shutil.ignore_patterns("*.ipynb"))
    nbformat.write(notebook, lab.notebooks / folder / NOTEBOOK)
    page = browser.new_page()
    page.goto(f"{lab.url}/lab/tree/{folder}/{NOTEBOOK}?reset&token={TOKEN}", wait_until="domcontentloaded")
    page.wait_for_function(f"() => document.querySelectorAll('{PANEL} .jp-Cell').length === {len(notebook.cells)}",
                           timeout=UI_TIMEOUT_MS)
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).wait_for(timeout=KERNEL_TIMEOUT_MS)
    return page


def _code_cell(page: Any, text: str) -> Any:
    """The one code cell of the open notebook whose source contains ``text``."""
    cells = page.locator(f"{PANEL} .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea", has_text=text))
    assert cells.count() == 1, f"{cells.count()} code cells contain {text!r}"
    return cells.first


def _menu(page: Any, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


_PROMPTS_JS = (f"() => Array.from(document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt'))"
               ".map(p => p.textContent.trim())")


def _run_all(page: Any) -> list[str]:
    """Run → Run All Cells, then wait (bounded) until nothing is queued or running; return the prompts."""
    before = page.evaluate(_PROMPTS_JS)
    _menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + RUN_ALL_TIMEOUT
    stable = 0
    while time.monotonic() < deadline:
        prompts = page.evaluate(_PROMPTS_JS)
        busy = any("*" in p for p in prompts)
        started = prompts != before and any(p.strip("[]: ").isdigit() for p in prompts)
        idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).count() > 0
        stable = stable + 1 if (started and not busy and idle) else 0
        if stable >= 3:
            return prompts
        page.wait_for_timeout(1000)
    pytest.fail(f"Run All did not finish within {RUN_ALL_TIMEOUT} s; prompts: {page.evaluate(_PROMPTS_JS)}")


def _output(cell: Any) -> str:
    return cell.locator(".jp-OutputArea").text_content() or ""


def _validate(page: Any) -> Any:
    """Press nbgrader's Validate; return the dialog with the result (bounded wait)."""
    page.locator(f"{PANEL} .validate-button").click()
    dialog = page.locator(".jp-Dialog", has=page.locator("#validation-message"))
    dialog.wait_for(state="visible", timeout=VALIDATE_TIMEOUT * 1000)
    return dialog


def _close(page: Any, lab: Lab) -> None:
    """Close the tab and shut its kernels down, so the next test has the CPU."""
    page.close()
    for kernel in _get_json(f"{lab.url}/api/kernels?token={TOKEN}"):
        request = urllib.request.Request(f"{lab.url}/api/kernels/{kernel['id']}?token={TOKEN}", method="DELETE")
        urllib.request.urlopen(request, timeout=120)  # noqa: S310 - 127.0.0.1 only


def test_correct_answers_pass_checks_and_validate(lab: Lab, browser: Any, shots: Any) -> None:
    """Run All prints ``All tests passed!`` under every public check, figures render, Validate succeeds."""
    page = _open(browser, lab, "correct", _notebook_with("demo-correct"))
    try:
        shots.take(page, "opened")
        # The student's seat: Validate, and no instructor parts (no exchange here, so no Nbgrader menu at all).
        menus = [t.strip() for t in page.locator(".lm-MenuBar-itemLabel").all_text_contents()]
        assert "Run" in menus and "Nbgrader" not in menus, menus
        assert page.locator(f"{PANEL} .validate-button").count() == 1
        prompts = _run_all(page)
        assert all(p.strip("[]: ").isdigit() for p in prompts), f"not every code cell ran: {prompts}"
        checks = page.locator(f"{PANEL} .jp-CodeCell").filter(
            has=page.locator(".jp-InputArea", has_text=PUBLIC_CHECK))
        assert checks.count() == 3
        for number in range(checks.count()):
            cell = checks.nth(number)
            shots.take(page, f"public-check-{number + 1}", cell)
            assert PASSED in _output(cell), f"public check {number + 1}:\n{_output(cell)}"
        figures = page.locator(f"{PANEL} .jp-OutputArea-output img")
        assert figures.count() >= 3, "the frame/mask, accuracy and prediction figures should render"
        for number in range(figures.count()):
            shots.take(page, f"figure-{number + 1}", figures.nth(number), block="center")
        dialog = _validate(page)
        shots.take(page, "validate-success")
        assert dialog.locator(".validation-success").count() == 1, dialog.text_content()
        assert "Success! Your notebook passes all the tests." in (dialog.text_content() or "")
        dialog.locator(".jp-Dialog-button").first.click()
    finally:
        _close(page, lab)


def test_wrong_answer_explained_and_validate_fails(lab: Lab, browser: Any, shots: Any) -> None:
    """A mistake typed into Exercise 1: its check explains the difference, Validate reports the failure."""
    wrong = _notebook_with("demo-mistake-conv")
    wrong_source = next(c.source for c in wrong.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "conv_block")
    page = _open(browser, lab, "mistake", _notebook_with("demo-correct"))
    try:
        # Type the wrong answer over the correct one, through the cell's editor, as a student would.
        editor = _code_cell(page, "def conv_block(").locator(".cm-content")
        editor.click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.insert_text(wrong_source)
        page.keyboard.press("Escape")
        shots.take(page, "edited-conv-block", _code_cell(page, "def conv_block("))
        typed = _code_cell(page, "def conv_block(").locator(".cm-content").text_content() or ""
        assert 'activation="relu"' in typed and typed.count('activation="relu"') == 1, typed

        _run_all(page)
        check = _code_cell(page, f"{PUBLIC_CHECK} 1")
        shots.take(page, "public-check-1-fails", check)
        text = _output(check)
        assert PASSED not in text
        assert "AssertionError" in text and "does not match what the exercise asks for" in text, text
        assert "'relu'" in text, f"the explanation should name the missing activation:\n{text}"
        print("public check 1 says:\n" + text[text.rfind("AssertionError"):][-1200:])

        dialog = _validate(page)
        shots.take(page, "validate-failed")
        shots.take(page, "validate-failed-explanation", dialog.locator("#validation-message > *").last)
        assert dialog.locator(".validation-failed").count() == 1, dialog.text_content()
        message = dialog.text_content() or ""
        assert message.count("The following cell failed:") == 1, message[:3000]
        assert f"{PUBLIC_CHECK} 1" in message, message[:3000]
        assert "does not match what the exercise asks for" in message, message[-3000:]
        dialog.locator(".jp-Dialog-button").first.click()
    finally:
        _close(page, lab)
