"""The instructor's side of grading: schedule, launch, store, report, collect, shard, check, containers.

Talks to what runs beside student code only through contracts JSON; never imports run/.
"""
