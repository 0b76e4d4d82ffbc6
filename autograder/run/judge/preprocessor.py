"""``JudgeEvidence``: the nbgrader preprocessor that judges check cells after the notebook ran.

It runs in the grading worker, outside the sandbox, right after execution and before nbgrader saves
the scores. For every graded check cell of a judged notebook it takes the evidence outputs out of
the cell, judges them (:mod:`autograder.run.judge.verdict`) and, when the verdict is negative, appends an
error output with the reason: nbgrader then scores the cell 0, and the feedback shows why. A cell
that already failed in the kernel stays failed: the score is the lower of the two outcomes.

The grading worker passes the assignment's bundles (what the release stored from the source notebook) and
the run's challenge seed. Listed in ``nbgrader_config.py`` for plain ``nbgrader autograde`` too: there it reads
the bundles from the course's ``references/`` folder and judges the fixed cases (no challenge).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import v4
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict, Integer, Unicode

from autograder.course import exercise_book

from autograder.run.judge.verdict import MIME, ReferenceCache, Verdict, judge_cell

__all__ = ["JudgeEvidence", "VERDICT_ERROR", "EVIDENCE_ERROR"]

#: ``ename`` of the error output a negative verdict adds.
VERDICT_ERROR = "GraderVerdict"
#: ``ename`` when the evidence itself was missing, malformed or too large (reported in grades.csv too).
EVIDENCE_ERROR = "GraderEvidenceError"


class JudgeEvidence(NbGraderPreprocessor):
    """Judge each graded check cell from its evidence; a negative verdict becomes an error output."""

    challenge = Integer(-1, help="the challenge seed the kernel was given; -1: none (judge the fixed cases)").tag(config=True)
    bundles = Dict(help="notebook -> bundle; empty: read references/<assignment>/ in the course root").tag(config=True)
    cache_dir = Unicode("", help="folder where a run's workers share reference evidence").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        """Judge every cell of the notebook."""
        bundles = dict(self.bundles)
        if not bundles:
            root = Path(str(self.config.get("CourseDirectory", {}).get("root") or os.getcwd()))
            assignment = str(resources.get("nbgrader", {}).get("assignment") or "")
            bundles = exercise_book.load_bundles(root, assignment) if assignment else {}
        self._cache = ReferenceCache(bundles, self.cache_dir or None)
        self._notebook = str(resources.get("unique_key") or "")
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int) -> tuple[NotebookNode, ResourcesDict]:
        """Take the evidence out of one cell and judge it."""
        outputs = cell.get("outputs")
        if cell.get("cell_type") != "code" or outputs is None:
            return cell, resources
        payloads: list[Any] = []
        kept = []
        for output in outputs:
            data = output.get("data") if output.get("output_type") in ("display_data", "execute_result") else None
            if isinstance(data, dict) and any(key.startswith(MIME.split("+")[0]) for key in data):
                payloads.append(data.get(MIME))
            else:
                kept.append(output)
        cell["outputs"] = kept
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or not meta.get("grade_id"):
            return cell, resources
        if any(output.get("output_type") == "error" for output in kept):
            return cell, resources  # already failed in the kernel
        try:
            seed = self.challenge if self.challenge >= 0 else None
            verdict = judge_cell(self._notebook, meta["grade_id"], payloads, seed, self._cache)
        except Exception as error:  # evidence the comparison cannot digest is bad evidence, never a pass
            self.log.warning("judging %s failed: %r", meta["grade_id"], error)
            verdict = Verdict(False, f"the grader could not read this cell's evidence ({type(error).__name__})",
                              bad_evidence=True)
        if verdict is None or verdict.ok:
            return cell, resources
        line = f"The grader's check of this cell failed: {verdict.reason}"
        self.log.info("%s: %s", meta["grade_id"], line)
        ename = EVIDENCE_ERROR if verdict.bad_evidence else VERDICT_ERROR
        cell["outputs"].append(v4.new_output("error", ename=ename, evalue=verdict.reason, traceback=[line]))
        return cell, resources
