"""Adapters to where grading runs besides a course machine: Gradescope, Coursera, containers, Kubernetes.

Entry points the images and YAML name live here.
"""
