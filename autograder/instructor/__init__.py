"""The instructor's tools around grading: release, feedback, export, the demo, examples and the lab.

Thin commands over course/ and host/.
"""
