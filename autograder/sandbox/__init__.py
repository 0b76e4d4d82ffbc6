"""Containment of a student's kernel: limits, policy, cgroups and the stdlib-only launcher.

The launcher (launch.py) imports nothing from this package.
"""
