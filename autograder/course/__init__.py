"""The course directory: its config and settings, assignment definitions, scratch copies and nbgrader's apps.

Used by every side above it; imports only contracts/ and sandbox/.
"""
