"""Parallel, sandboxed nbgrader autograding for the U-Net course kit.

``python -m autograder --help`` lists the commands (:mod:`autograder.cli`, the one command line). The
packages, from the top down (each imports only those below it; ``tests/autograder/test_layout.py`` holds them
to it):

- :mod:`autograder.platforms` — Gradescope, Coursera and SLURM adapters and the grading image.
- :mod:`autograder.instructor` — release, feedback, exports, the mistakes report, the lab and the demo.
- :mod:`autograder.host` — grading on this machine: ``grade``, ``check``, ``shard``, ``collect``, the
  scheduler, the fork server, the gradebook writer and the grades table.
- :mod:`autograder.run` — what runs beside student code: the worker, its warm kernels and the judge.
- :mod:`autograder.course` — the course directory, its settings, assignment definitions, scratch copies.
- :mod:`autograder.sandbox` — limits and isolation of a student's kernel.
- :mod:`autograder.contracts` — the JSON that crosses a process or machine boundary (job, policy, result).
"""
__all__ = ["__version__"]
__version__ = "0.1.0"
