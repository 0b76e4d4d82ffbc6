"""A new nbgrader gradebook, made in this process.

nbgrader's ``Gradebook`` stamps a new database with the alembic revision it reads from a ``alembic heads``
subprocess: a fresh Python that imports alembic and SQLAlchemy, about 2.5 s on a 2-core machine, for every new
gradebook. The kit makes one for every grading run (the template each submission's gradebook is copied from),
for every scratch course (``check``, ``shard``, the LMS entries) and before every ``generate_assignment`` into a
new course. :func:`create` writes what nbgrader writes -- its tables and the alembic stamp, the revision read from
nbgrader's own migration scripts with alembic's API -- and then lets nbgrader's ``Gradebook`` add the course, so
nbgrader finds an existing gradebook and runs no subprocess. ``tests/autograder/course/test_new_gradebook.py``
compares the result with the one nbgrader makes.
"""
from __future__ import annotations

import functools

from nbgrader import dbutil
from nbgrader.api import Base, Gradebook
from sqlalchemy import create_engine, inspect, text

__all__ = ["alembic_head", "create"]


@functools.cache
def alembic_head() -> str:
    """The head revision of nbgrader's migration scripts: what ``alembic heads`` prints for them."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", dbutil.ALEMBIC_DIR)
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError(f"nbgrader's migration scripts in {dbutil.ALEMBIC_DIR} have no head revision")
    return head


def create(db_url: str, course_id: str) -> None:
    """Make the gradebook at ``db_url`` for ``course_id`` when the database has no tables yet (else leave it as it
    is): nbgrader's tables, its alembic stamp and the course, as ``nbgrader.api.Gradebook`` makes them."""
    engine = create_engine(db_url, future=True)
    try:
        if not inspect(engine).get_table_names():
            Base.metadata.create_all(bind=engine)
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
                connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                                   {"head": alembic_head()})
    finally:
        engine.dispose()
    with Gradebook(db_url, course_id):
        pass  # adds the course row, as nbgrader does on every open
