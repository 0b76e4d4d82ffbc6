"""Grading on this machine: grade, check, shard, collect; the scheduler, fork server, store and grades table.

Talks to what runs beside student code only through contracts JSON; never imports run/, instructor/ or platforms/.
"""
