"""Parallel, sandboxed nbgrader autograding for the U-Net course kit.

``python -m autograder --help`` lists the commands. Each pipeline stage is one module:

- :mod:`autograder.course.directory` — the course directory, its nbgrader config and its submissions.
- :mod:`autograder.course.definition` — the assignment's cells, read from the gradebook.
- :mod:`autograder.contracts.results` — the per-submission result JSON (the one documented format).
- :mod:`autograder.sandbox.limits` / :mod:`autograder.sandbox.launch` — limits and isolation of the kernel.
- :mod:`autograder.run.triage` — checks a submission before it is executed.
- :mod:`autograder.run.worker` — grades one submission in a private scratch course.
- :mod:`autograder.host.forkserver` / :mod:`autograder.run.warm` — workers forked from a server that has imported
  their packages, each with a pre-forked kernel (the warm start).
- :mod:`autograder.host.scheduler` — runs workers in parallel with time limits.
- :mod:`autograder.host.store` — writes one result into the course gradebook, keeps the ledger.
- :mod:`autograder.host.report` — grades.csv, the summary table and the distribution plot.
- :mod:`autograder.host.grade`, :mod:`autograder.host.check`, :mod:`autograder.host.collect`,
  :mod:`autograder.instructor.feedback`, :mod:`autograder.instructor.export` — the commands.
"""
__all__ = ["__version__"]
__version__ = "0.1.0"
