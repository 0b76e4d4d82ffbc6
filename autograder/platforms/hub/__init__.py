"""The course hub (``python -m autograder hub``): a real JupyterHub for the course on one machine.

One module per step, host side only (nothing here runs beside student code):

* :mod:`.settings` -- ``c.CourseHub`` in ``nbgrader_config.py`` (staff, exchange, state folder) and the plan built
  from it and the roster: who gets which account, group and role;
* :mod:`.preflight` -- every check that must pass before anything is created (proxy, port, roster, exchange);
* :mod:`.files` -- the configuration files, written alike for this machine and for ``--config-only``;
* :mod:`.accounts` -- Unix accounts, private homes, the course account's course folder;
* :mod:`.exchange` -- the exchange folders, with modes that keep students apart;
* :mod:`.run` -- ``run(*, ...)``: preflight, set up, start the hub and wait.
"""
