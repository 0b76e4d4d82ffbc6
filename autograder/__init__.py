"""Parallel, sandboxed nbgrader autograding for the U-Net course kit.

``python -m autograder --help`` lists the commands. Each pipeline stage is one module:

- :mod:`autograder.course` — the course directory, its nbgrader config and its submissions.
- :mod:`autograder.definition` — the assignment's cells, read from the gradebook.
- :mod:`autograder.results` — the per-submission result JSON (the one documented format).
- :mod:`autograder.sandbox` / :mod:`autograder.sandbox_launch` — limits and isolation of the kernel.
- :mod:`autograder.triage` — checks a submission before it is executed.
- :mod:`autograder.worker` — grades one submission in a private scratch course.
- :mod:`autograder.forkserver` / :mod:`autograder.warm` — workers forked from a server that has imported
  their packages, each with a pre-forked kernel (the warm start).
- :mod:`autograder.scheduler` — runs workers in parallel with time limits.
- :mod:`autograder.store` — writes one result into the course gradebook, keeps the ledger.
- :mod:`autograder.report` — grades.csv, the summary table and the distribution plot.
- :mod:`autograder.grade`, :mod:`autograder.check`, :mod:`autograder.collect`,
  :mod:`autograder.feedback`, :mod:`autograder.export` — the commands.
"""
__all__ = ["__version__"]
__version__ = "0.1.0"
