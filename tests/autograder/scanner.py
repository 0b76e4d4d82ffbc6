"""A hostile submission that answers ``conv_block`` by finding the instructor's solution instead of writing one.

:func:`scanner_notebook` is the released unet notebook whose ``conv_block`` answer cell, in place of an answer,
searches everything its kernel can reach: guessed paths first (``source/unet/...``, ``references/unet/*.json`` and
``gradebook.db`` above its working folder, and the same in the kit's own checkout), then every folder from its
working folder upwards and from ``/``, reading each readable text, JSON, notebook or SQLite file for a top-level
definition that starts with the released answer's first line (``def conv_block(inputs=None, ...):``) and is not the
stub. It executes the first one it finds, so ``conv_block`` is defined, and prints ``SCAN FOUND <path>``; else
``SCAN NOTHING``. :func:`found_solution` reads that line from a graded notebook. The other answer cells stay as
released. Used on every grading path: wherever the kernel is confined, the scanner must find nothing.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

ANSWER = "conv_block"
FOUND, NOTHING = "SCAN FOUND ", "SCAN NOTHING"

# The cell's code. ``HEADER`` is given in hex, so that this cell (in a submitted, autograded or history copy) never
# holds the line it looks for; the same goes for the verdict words, so a listing of this very source is no verdict.
_SCANNER = r'''# Instead of an answer: look for the instructor's solution wherever this kernel can reach, and use it.
import json, os, re, sqlite3, sys, time
HEADER = bytes.fromhex("@HEADER@").decode()
NAME = HEADER.split("(")[0].split()[-1]
KIT_GUESSES = @KIT_GUESSES@
COURSE_GUESSES = ["source/@ASSIGNMENT@/@NOTEBOOK@", "references/@ASSIGNMENT@/*.json", "gradebook.db",
                  "source/*/*.ipynb", "release/*/*.ipynb"]
SKIP = {"/proc", "/sys", "/dev", "/run", "/boot", "/snap", "/usr/lib", "/usr/lib64", "/usr/share", "/usr/include",
        "/usr/src", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/var/lib/docker", "/var/cache",
        os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
SKIP_NAMES = {".git", "node_modules", "site-packages", "dist-packages", "__pycache__", "CameraRGB", "CameraMask"}
SUFFIXES = (".ipynb", ".json", ".py", ".db", ".sqlite", ".txt", ".md", ".bak", ".html")
DEADLINE = time.monotonic() + 120
seen = set()


def blocks(text):
    for match in re.finditer("(?m)^" + re.escape(HEADER), text):
        lines = text[match.start():].splitlines()
        body = [lines[0]]
        for line in lines[1:]:
            if line.strip() and not line[0].isspace():
                break
            body.append(line)
        yield "\n".join(body) + "\n"


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            yield "".join(value)  # a notebook cell's source, line by line
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)


def texts(path):
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > 32 * 2**20:
            return
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return
    if data.startswith(b"SQLite format 3\0"):
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
            for (table,) in db.execute("select name from sqlite_master where type = 'table'").fetchall():
                for row in db.execute(f'select * from "{table}"'):
                    for value in row:
                        if isinstance(value, str) and NAME in value:
                            yield value
            db.close()
        except sqlite3.Error:
            pass
    if NAME.encode() not in data:
        return
    text = data.decode("utf-8", "replace")
    yield text
    try:
        yield from strings(json.loads(text))
    except ValueError:
        pass


def attempt(path):
    real = os.path.realpath(path)
    if real in seen:
        return False
    seen.add(real)
    for text in texts(real):
        for block in blocks(text):
            if "NotImplementedError" in block:
                continue  # the released stub
            try:
                code = compile(block, real, "exec")
                exec(code, globals())
            except Exception:
                continue
            if callable(globals().get(NAME)):
                print("SCAN " + "FOUND", path)
                return True
    return False


def walk(top):
    for folder, dirs, files in os.walk(top):
        if time.monotonic() > DEADLINE:
            return False
        dirs[:] = [d for d in dirs if d not in SKIP_NAMES and os.path.join(folder, d) not in SKIP]
        for name in files:
            if name.endswith(SUFFIXES) and attempt(os.path.join(folder, name)):
                return True
    return False


def scan():
    import glob
    upwards = [os.getcwd()]
    while upwards[-1] != os.path.dirname(upwards[-1]):
        upwards.append(os.path.dirname(upwards[-1]))
    for folder in upwards:  # list each folder above, and try the course's usual places there
        try:
            print("SCAN LISTS", folder, sorted(os.listdir(folder))[:40])
        except OSError as error:
            print("SCAN LISTS", folder, type(error).__name__)
    guesses = [p for folder in upwards for g in COURSE_GUESSES for p in glob.glob(os.path.join(folder, g))]
    guesses += [p for g in KIT_GUESSES for p in glob.glob(g)]
    guesses += [os.path.join(*([".."] * n), g) for n in (1, 2, 3) for g in ("source/@ASSIGNMENT@/@NOTEBOOK@", "gradebook.db")]
    if any(attempt(p) for p in guesses):
        return
    for top in upwards[:-1] + ["/"]:
        if walk(top):
            return
    print("SCAN " + "NOTHING", f"({len(seen)} files read)")


scan()
'''


def scanner_notebook(released_nb: Path, kit_root: Path) -> nbformat.NotebookNode:
    """The released notebook ``released_nb`` with its ``conv_block`` answer cell replaced by the scanner.

    ``kit_root``: the kit's checkout, whose ``source/``, ``references/`` and ``gradebook.db`` the scanner guesses
    first (as a student who cloned the kit would).
    """
    nb = nbformat.read(released_nb, as_version=4)
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == ANSWER)
    header = next(line for line in cell.source.splitlines() if line.startswith(f"def {ANSWER}("))
    assignment = released_nb.parent.name
    kit = [str(kit_root / "source" / assignment / released_nb.name), str(kit_root / "references" / assignment / "*.json"),
           str(kit_root / "gradebook.db"), str(kit_root / "source" / "*" / "*.ipynb")]
    cell.source = (_SCANNER.replace("@HEADER@", header.encode().hex()).replace("@KIT_GUESSES@", repr(kit))
                   .replace("@ASSIGNMENT@", assignment).replace("@NOTEBOOK@", released_nb.name))
    return nb


def found_solution(graded_nb: nbformat.NotebookNode | Path) -> bool:
    """Whether the scanner in ``graded_nb`` (a node or a path) printed ``SCAN FOUND``; ``SCAN NOTHING``: False.

    Raises ``ValueError`` when it printed neither (it did not run, or failed before its verdict).
    """
    nb = nbformat.read(graded_nb, as_version=4) if isinstance(graded_nb, Path) else graded_nb
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") != ANSWER:
            continue
        for output in cell.get("outputs", []):
            text = output.get("text", "") if output.get("output_type") == "stream" else ""
            for line in text.splitlines():
                if line.startswith(FOUND):
                    return True
                if line.startswith(NOTHING):
                    return False
    raise ValueError(f"the scanner printed no {FOUND.strip()} or {NOTHING} line in its {ANSWER} cell")
