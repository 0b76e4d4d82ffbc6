"""Adapters to where grading runs besides a course machine: Gradescope, Coursera, SLURM, the grading image.

The top of the house: may use instructor/, host/ and course/; nothing imports it but the command line.
"""
