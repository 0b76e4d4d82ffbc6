"""The course on a real JupyterHub: PAM logins, servers as each student's Unix account, the exchange, the Formgrader.

``python -m autograder hub`` runs on a copy of the released ``unet`` course with an instructor, a teaching assistant
and two students (a roster). Everything goes through the hub's own URL, as a browser would: the login form, each
person's server (nbgrader's Assignment List actions) and the Formgrader service (its API, as its buttons call it).
Then student B, as their own Unix account, tries to reach student A's work: refused here, allowed by the exchange
and homes nbgrader and Debian make by default (the same probes, on that layout, say what was open).
"""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Callable, Iterator

import nbformat
import psutil
import pytest

from autograder.instructor import examples

import hub_env  # noqa: E402  (tests/autograder/platforms/hub is on sys.path through conftest)

pytestmark = [pytest.mark.slow, pytest.mark.hub,
              pytest.mark.skipif(os.geteuid() != 0, reason="the hub makes Unix accounts and starts servers as them")]

ASSIGNMENT = "unet"
NOTEBOOK = "Image_segmentation_Unet.ipynb"
MAX_SCORE = 30.0
#: student index -> (example submission, expected total)
ANSWERS = {0: ("demo-correct", 30.0), 1: ("demo-mistake-conv", 20.0)}
REGION = re.compile(r"### BEGIN HIDDEN TESTS[^\n]*\n(.*?)### END HIDDEN TESTS", re.DOTALL)

#: Run as student B with the system's Python: each probe on student A's work, "allowed" or "refused". Reads first,
#: then writes, then renames (on the default layout they succeed and change it).
PROBE = r"""
import json, os, sys
t = json.loads(sys.stdin.read())
out = {}
def attempt(name, act):
    try:
        act()
        out[name] = "allowed"
    except OSError:
        out[name] = "refused"
attempt("list_inbound", lambda: os.listdir(t["inbound"]))
attempt("list_submission", lambda: os.listdir(t["submission"]))
attempt("read_submission", lambda: open(os.path.join(t["submission"], t["notebook"]), "rb").read(1))
attempt("read_fetched", lambda: open(t["fetched"], "rb").read(1))
attempt("list_home", lambda: os.listdir(t["home"]))
attempt("write_submission", lambda: open(os.path.join(t["submission"], "planted.txt"), "w").write("x"))
attempt("rename_submission", lambda: os.rename(t["submission"], t["submission"] + "-moved"))
attempt("rename_course", lambda: os.rename(t["course"], t["course"] + "-moved"))
print(json.dumps(out))
"""
REFUSED_ALL = {name: "refused" for name in ("list_inbound", "list_submission", "read_submission", "read_fetched",
                                            "list_home", "write_submission", "rename_submission", "rename_course")}


@pytest.fixture(scope="module")
def hub(released_course: Callable[[str], Path]) -> Iterator[hub_env.Hub]:
    tag = uuid.uuid4().hex[:5]
    folder = hub_env.new_folder()
    names = {"instructor": f"ht{tag}i", "assistant": f"ht{tag}a", "students": [f"ht{tag}s1", f"ht{tag}s2"]}
    course = hub_env.make_course(folder, released_course(ASSIGNMENT), instructor=names["instructor"],
                                 assistant=names["assistant"])
    roster = folder / "roster.csv"
    roster.write_text("student_id,name\n" + "".join(f"{s},Student {s}\n" for s in names["students"]), encoding="utf-8")
    found = hub_env.Hub(base=f"http://127.0.0.1:{hub_env.free_ports()}", folder=folder, course=course,
                        state=folder / "state", exchange=folder / "exchange", course_id="unet-course",
                        instructor=names["instructor"], assistant=names["assistant"], students=names["students"])
    try:
        hub_env.start(found, roster)
        yield found
    finally:
        hub_env.stop(found)
        hub_env.remove_accounts([*found.everyone(), found.grader])
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def _server_uid(user: str) -> set[str]:
    """The Unix accounts that run ``user``'s jupyterhub-singleuser."""
    owners = set()
    for proc in psutil.process_iter(["username", "cmdline", "environ"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            env = proc.info["environ"] or {}
        except psutil.Error:
            continue
        if "jupyterhub-singleuser" in cmd and env.get("JUPYTERHUB_USER") == user:
            owners.add(proc.info["username"])
    return owners


def _answer(hub: hub_env.Hub, student: str, example_name: str) -> None:
    """Type the example's answers into the student's fetched copy (as the student would), owned by them."""
    fetched = Path(f"/home/{student}") / ASSIGNMENT / NOTEBOOK
    answers = examples.answer_sources(hub.course / "source" / ASSIGNMENT / NOTEBOOK)
    example = next(e for e in examples.UNET_EXAMPLES if e.student == example_name)
    nbformat.write(examples.build_submission(example, fetched, answers), fetched)
    subprocess.run(["chown", f"{student}:{student}", str(fetched)], check=True)


def _probe(as_user: str, targets: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(["runuser", "-u", as_user, "--", "/usr/bin/python3", "-I", "-c", PROBE],
                          input=json.dumps(targets), capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _targets(exchange: Path, course_id: str, student: str, home: Path) -> dict[str, str]:
    inbound = exchange / course_id / "inbound"
    submission = next(p for p in inbound.iterdir() if p.name.startswith(f"{student}+{ASSIGNMENT}+"))
    return {"inbound": str(inbound), "submission": str(submission), "notebook": NOTEBOOK,
            "fetched": str(home / ASSIGNMENT / NOTEBOOK), "home": str(home), "course": str(exchange / course_id)}


def _default_layout(hub: hub_env.Hub, student: str) -> dict[str, str]:
    """nbgrader's own exchange (made by its release_assignment) and a home with Debian's default mode (0755, from
    ``UMASK 022``), with ``student``'s fetched copy and submission in them, made by nbgrader's commands as that
    student (plain nbgrader settings: no kit configuration)."""
    plan = json.loads((hub.state / "hub.json").read_text())
    nbgrader = str(Path(plan["venv_bin"]) / "nbgrader")
    exchange = hub.folder / "default-exchange"
    common = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={hub.course_id}"]
    subprocess.run([nbgrader, "release_assignment", ASSIGNMENT, *common, f"--CourseDirectory.root={hub.course}"],
                   cwd=hub.course, capture_output=True, check=True, timeout=300,
                   env={**os.environ, "PATH": f"{plan['venv_bin']}:{os.environ['PATH']}"})
    home = hub.folder / f"default-home-{student}"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    subprocess.run(["chown", f"{student}:{student}", str(home)], check=True)
    env = ["env", "-i", f"HOME={home}", f"PATH={plan['venv_bin']}:/usr/bin:/bin", "LANG=C.UTF-8"]
    for step in (["fetch_assignment", ASSIGNMENT], ["submit", ASSIGNMENT]):
        done = subprocess.run(["runuser", "-u", student, "--", *env, nbgrader, *step, *common], cwd=home,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    return _targets(exchange, hub.course_id, student, home)


def _hidden_lines(course: Path) -> set[str]:
    source = nbformat.read(course / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    released = nbformat.read(course / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    public = {line.strip() for cell in released.cells for line in cell.source.splitlines()}
    lines = {line.strip() for cell in source.cells for region in REGION.findall(cell.source)
             for line in region.splitlines()}
    return {line for line in lines - public if len(line) >= 12}


def test_release_fetch_submit_grade_feedback_through_the_hub(hub: hub_env.Hub) -> None:
    """Every step of the course through the hub's URL, as its people; students kept apart; grading confined."""
    a, b = hub.students
    instructor = hub_env.Client(hub, hub.instructor)
    assert instructor.formgrader().status_code == 200
    released = instructor.api(f"assignment/{ASSIGNMENT}/release")
    assert "Released as" in released["log"]

    students = {s: hub_env.Client(hub, s) for s in hub.students}
    for i, (student, client) in enumerate(students.items()):
        client.server()
        assert _server_uid(student) == {student}, "each server runs as its student's own Unix account"
        listed = client.get(f"/user/{student}/assignments?course_id={hub.course_id}").json()
        assert [x["assignment_id"] for x in listed["value"]] == [ASSIGNMENT], listed
        client.nbgrader("fetch", ASSIGNMENT)
        _answer(hub, student, ANSWERS[i][0])
        client.nbgrader("submit", ASSIGNMENT)
        # nobody but the staff opens the Formgrader
        assert client.formgrader().status_code == 403

    # Student B, as their own Unix account, on A's work: refused everywhere.
    assert _probe(b, _targets(hub.exchange, hub.course_id, a, Path(f"/home/{a}"))) == REFUSED_ALL

    # The teaching assistant grades from the Formgrader: collect, autograde (confined), feedback.
    ta = hub_env.Client(hub, hub.assistant)
    assert ta.formgrader().status_code == 200
    collected = ta.api(f"assignment/{ASSIGNMENT}/collect")
    assert all(s in collected["log"] for s in hub.students), collected
    for student in hub.students:
        ta.api(f"submission/{ASSIGNMENT}/{student}/autograde")
    ta.api(f"assignment/{ASSIGNMENT}/generate_feedback")
    ta.api(f"assignment/{ASSIGNMENT}/release_feedback")

    hidden = _hidden_lines(hub.course)
    for i, (student, client) in enumerate(students.items()):
        client.nbgrader("fetch_feedback", ASSIGNMENT)
        pages = sorted((Path(f"/home/{student}") / ASSIGNMENT / "feedback").glob("*/*.html"))
        assert len(pages) == 1, pages
        page = pages[0].read_text(encoding="utf-8")
        score = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", page)
        assert score and float(score.group(2)) == MAX_SCORE, f"no total in {pages[0]}"
        assert float(score.group(1)) == ANSWERS[i][1], f"{student}: {score.group(0)}"
        plain = html.unescape(re.sub(r"<[^>]*>", "", page))
        assert "BEGIN HIDDEN TESTS" not in page and not [line for line in hidden if line in page or line in plain]
        if ANSWERS[i][1] < MAX_SCORE:
            assert "expected 'relu'" in plain, "the feedback names the mistake"


def test_the_default_exchange_and_homes_let_a_student_into_anothers_work(hub: hub_env.Hub) -> None:
    """The same probes on what nbgrader and Debian make by default: this is what the hub's layout closes."""
    a, b = hub.students
    found = _probe(b, _default_layout(hub, a))
    assert found == {**REFUSED_ALL, "list_submission": "allowed", "read_submission": "allowed",
                     "read_fetched": "allowed", "list_home": "allowed", "write_submission": "allowed",
                     "rename_submission": "allowed", "rename_course": "allowed"}


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"]
UI_MS = 120_000  # one page or element, on a busy machine
SPAWN_MS = 600_000  # a server starting (TensorFlow's first import) on a busy machine


@pytest.mark.browser
def test_in_chromium_the_login_form_the_assignment_list_and_the_formgrader(hub: hub_env.Hub, tmp_path: Path) -> None:
    """As people do it: the hub's login form, the student's Assignment List, the Formgrader in a tab of its own
    (JupyterHub 4.1+ forbids framing it in the lab), and a student refused at the Formgrader's URL. Screenshots of
    each step are kept in the test's folder."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: make system-deps installs it")
    from playwright.sync_api import sync_playwright

    taken: list[Path] = []

    def shot(page: object, name: str) -> None:
        path = tmp_path / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        taken.append(path)
        print(f"screenshot: {path}")

    student = hub.students[0]
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            def login(user: str, role: str) -> object:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(UI_MS)
                page = context.new_page()
                page.goto(f"{hub.base}/hub/login")
                page.fill("#username_input", user)
                page.fill("#password_input", hub.passwords[user])
                shot(page, f"login-{role}")
                page.click("#login_submit")
                return page

            page = login(student, "student")
            page.wait_for_url(re.compile(rf"/user/{student}/lab"), timeout=SPAWN_MS)
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Assignment List").first.click()
            listed = page.locator("#fetched_assignments_list, #submitted_assignments_list", has_text=ASSIGNMENT)
            listed.first.wait_for()
            shot(page, "student-assignment-list")
            page.goto(f"{hub.base}/services/{hub.course_id}/formgrader")
            assert "403" in (page.content() or ""), "a student must not open the Formgrader"
            shot(page, "student-refused-at-formgrader")

            page = login(hub.assistant, "assistant")
            page.wait_for_url(re.compile(rf"/user/{hub.assistant}/lab|/hub/"), timeout=SPAWN_MS)
            grader = page.context.new_page()  # a tab of its own
            grader.goto(f"{hub.base}/services/{hub.course_id}/formgrader")
            grader.locator("table", has_text=ASSIGNMENT).first.wait_for()
            shot(grader, "assistant-formgrader-tab")
        finally:
            browser.close()
    assert len(taken) == 5
