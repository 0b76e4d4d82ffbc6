"""nbgrader's submit, with the submission closed to everyone but its student and the course account.

nbgrader leaves each submission folder world-writable (``0777``) and its files world-readable (``0644``), hidden only
by a random suffix on the folder's name: a student who learns the name can read and change another's work. Here the
folder becomes ``0750`` and its files ``0640``. Each file's group is the student's own group or the course account's
(the setgid ``inbound`` gives it to what nbgrader copies first), and the course account is a member of every student's
group (:mod:`autograder.platforms.hub.accounts`): the student and the course account (the Formgrader, which collects) keep
access, other students have none, whatever their umask.
"""
from __future__ import annotations

import os

from nbgrader.exchange.default.submit import ExchangeSubmit

__all__ = ["PrivateSubmit"]


class PrivateSubmit(ExchangeSubmit):
    """``c.ExchangeFactory.submit`` of the course hub's seats."""

    def copy_files(self) -> None:
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        for folder, _dirs, files in os.walk(dest):
            os.chmod(folder, 0o750)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o640)
