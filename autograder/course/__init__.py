"""The course directory: its config, assignment definitions, scratch copies and nbgrader's apps.

Used by every side; imports nothing from host/, run/ or platforms/.
"""
