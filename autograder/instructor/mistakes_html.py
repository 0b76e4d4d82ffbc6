"""The mistakes report as HTML (one self-contained file) and its chart (failure share per check, PNG).

Everything that came from notebooks, the ledger or the gradebook is escaped (:func:`html.escape`).
"""
from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING

from autograder.contracts.results import STATUSES

if TYPE_CHECKING:
    from autograder.instructor.mistakes import Mistakes

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #eee; vertical-align: top; }
td.n { text-align: right; white-space: nowrap; } code { font-size: .95em; }
.muted { color: #777; } .ok { color: #2a7a2a; } .note { background: #fff6d5; padding: .5em .8em; }
"""


def chart(m: "Mistakes") -> bytes:
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


def render(m: "Mistakes", png: bytes) -> str:
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
