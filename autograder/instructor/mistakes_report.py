"""``report``: the class's mistakes per check cell as ``reports/<assignment>/mistakes.{html,csv,png}``.

The HTML is one self-contained file with its chart (failure share per check, PNG) inside.

Everything that came from notebooks, the ledger or the gradebook is escaped (:func:`html.escape`).
"""
from __future__ import annotations

import base64
import csv
import html
import io
import os
from pathlib import Path

from autograder.contracts.results import STATUSES
from autograder.course.directory import Course
from autograder.instructor.mistakes import Mistakes, collect

CSV_HEADER = ["notebook", "check", "failed", "submissions", "group", "count", "share", "example", "students"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #eee; vertical-align: top; }
td.n { text-align: right; white-space: nowrap; } code { font-size: .95em; }
.muted { color: #777; } .ok { color: #2a7a2a; } .note { background: #fff6d5; padding: .5em .8em; }
"""


def chart(m: Mistakes) -> bytes:
    """PNG bytes: a horizontal bar per check cell, the share of submissions that failed it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    total = len(m.students)
    labels = [c.grade_id for c in m.checks]
    shares = [100 * len(c.failed) / total if total else 0.0 for c in m.checks]
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(labels), 2) + 1.2))
    bars = ax.barh(range(len(labels)), shares, color="#cc6677")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("submissions that failed the check (%)")
    ax.set_title(f"{m.assignment}: failure share per check ({total} submissions)")
    for bar, check in zip(bars, m.checks):
        ax.text(min(bar.get_width() + 1, 92), bar.get_y() + bar.get_height() / 2, f"{len(check.failed)}/{total}",
                va="center", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render(m: Mistakes, png: bytes) -> str:
    """The report page, with the chart embedded as a data URL."""
    total = len(m.students)
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Mistakes: {_e(m.assignment)}</title>",
           f"<style>{_STYLE}</style></head><body>",
           f"<h1>Mistakes in <code>{_e(m.assignment)}</code></h1>",
           f"<p>{total} submissions. Per check: how many did not score full marks, and their explanations grouped "
           "by what they say (numbers, layer indices, sizes and chosen names ignored; one example shown per group). "
           "Shares are of all submissions.</p>",
           f"<img alt='failure share per check' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"]
    if m.unexplained:
        out.append(f"<p class='note'>No graded notebook could be read for {len(m.unexplained)} submissions "
                   f"({_e(', '.join(m.unexplained))}): their failures are listed from the gradebook without "
                   "explanations (graded elsewhere and merged with <code>collect</code>, or the file is missing).</p>")
    out.append("<h2>Summary</h2><table><tr><th>check</th><th>notebook</th><th>failed</th><th>share</th></tr>")
    for c in m.checks:
        share = f"{100 * len(c.failed) / total:.0f}%" if total else "-"
        out.append(f"<tr><td><a href='#{_e(c.grade_id)}'><code>{_e(c.grade_id)}</code></a></td>"
                   f"<td>{_e(c.notebook)}</td><td class='n'>{len(c.failed)}/{total}</td><td class='n'>{share}</td></tr>")
    out.append("</table>")
    for c in m.checks:
        out.append(f"<h2 id='{_e(c.grade_id)}'><code>{_e(c.grade_id)}</code> — {len(c.failed)} of {total} failed</h2>")
        if not c.groups:
            out.append("<p class='ok'>Every submission passed.</p>")
            continue
        out.append("<table><tr><th>count</th><th>share</th><th>explanation (example)</th><th>students</th></tr>")
        for g in c.sorted_groups():
            n = len(g.students)
            out.append(f"<tr><td class='n'>{n}</td><td class='n'>{100 * n / total:.0f}%</td>"
                       f"<td>{_e(g.example)}<br><span class='muted'>group: {_e(g.key)}</span></td>"
                       f"<td>{_e(', '.join(g.students))}</td></tr>")
        out.append("</table>")
    out.append("<h2>Statuses</h2><table><tr><th>status</th><th>meaning</th><th>count</th><th>students</th></tr>")
    for status, students in sorted(m.statuses.items(), key=lambda kv: (kv[0] != "graded", kv[0])):
        out.append(f"<tr><td><code>{_e(status)}</code></td><td>{_e(STATUSES.get(status, ''))}</td>"
                   f"<td class='n'>{len(students)}</td><td>{_e(', '.join(students))}</td></tr>")
    out.append("</table>")
    if m.reasons:
        out.append("<h2>Reasons given by the grader</h2><table><tr><th>student</th><th>reason</th></tr>")
        for student, reason in sorted(m.reasons.items()):
            out.append(f"<tr><td>{_e(student)}</td><td>{_e(reason)}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write(mistakes: Mistakes, folder: Path) -> dict[str, Path]:
    """Write ``mistakes.csv``, ``mistakes.png`` and ``mistakes.html`` into ``folder``; return them by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"csv": folder / "mistakes.csv", "png": folder / "mistakes.png", "html": folder / "mistakes.html"}
    _write_csv(paths["csv"], mistakes)
    png = chart(mistakes)
    _atomic(paths["png"], png)
    _atomic(paths["html"], render(mistakes, png).encode("utf-8"))
    return paths


def run(*, course: Course, assignment: str) -> dict[str, Path]:
    """The ``report`` command: collect and write ``reports/<assignment>/``."""
    return write(collect(course=course, assignment=assignment), course.root / "reports" / assignment)


def _write_csv(path: Path, m: Mistakes) -> None:
    total = len(m.students)
    rows: list[list[str]] = []
    for check in m.checks:
        base = [check.notebook, check.grade_id, str(len(check.failed)), str(total)]
        if not check.groups:
            rows.append(base + ["", "0", "0", "", ""])
        for g in check.sorted_groups():
            rows.append(base + [_cell(g.key), str(len(g.students)), _share(len(g.students), total), _cell(g.example),
                                " ".join(g.students)])
    for status, students in sorted(m.statuses.items()):
        rows.append(["", "(status)", "", str(total), status, str(len(students)), _share(len(students), total),
                     _cell(STATUSES.get(status, "")), " ".join(students)])
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)
    os.replace(tmp, path)


def _share(count: int, total: int) -> str:
    return f"{count / total:.3f}" if total else "0"


def _cell(text: str) -> str:
    """Notebook text in a CSV cell a spreadsheet will not run as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
