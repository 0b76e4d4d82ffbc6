"""Mutation testing of the notebooks' checks: mutants of the instructor's answers, an independent oracle
that says which of them really change what the notebook asks for, and a grader run that says which the
checks catch. Nothing is specific to one assignment: every folder of ``source/`` whose notebook declares
exercises is taken, with the operators its exercises' kinds call for.

- :mod:`benchmarks.mutants.generate` rewrites the answer cells' syntax trees (no TensorFlow needed);
- :mod:`benchmarks.mutants.oracle` builds each mutant and the notebook's own solution side by side, at the
  exercise's declared cases, and compares behaviour;
- :mod:`benchmarks.mutants.grading` grades the mutants as submissions in a scratch copy of the course.

``benchmarks/bench_mutants.py`` is the command line.
"""
