"""The judge: decides graded check cells from the evidence their kernel emitted, in the grader's process.

References live here (never in a notebook cell); the kernel cannot import this package in the sandbox.
"""
