"""The instructor's tools around grading: release, feedback, export, the mistakes report, the demo and the lab.

Commands over host/ and course/ (the release also uses run/judge's references); never imports platforms/.
"""
