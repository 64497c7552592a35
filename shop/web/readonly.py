"""Public pages that only read run their statements without a transaction (autocommit).

On PostgreSQL, psycopg opens a transaction with a round trip of its own (``BEGIN``) before a
request's first statement, and the session ends it with another (``ROLLBACK``): three round trips
for a page that reads one row, two of them doing nothing for it. Under PostgreSQL's READ
COMMITTED, each statement sees its own snapshot whether or not it is in a transaction, so a page
that only reads sees exactly the same rows in autocommit, at one round trip per statement
(publication page 2.06 -> 1.62 ms in-process; docs/performance.md). On SQLite the transaction
costs no round trip, and leaving it costs a PRAGMA statement each time, so pages there keep it.

Invariant: a view marked ``@read_only`` sends only ``SELECT`` statements; in autocommit a write
would be committed at once, statement by statement. tests/web/test_readonly.py records every
statement each marked view sends and fails on any other.
"""

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Flask, current_app

from shop.extensions import db

View = TypeVar("View", bound=Callable)

_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}

EXTENSION = "shop.read_only_autocommit"
READ_ONLY_VIEWS: set[str] = set()  # qualified names of the marked views, for the guard test


def init_app(app: Flask, dialect_name: str) -> None:
    app.extensions[EXTENSION] = dialect_name == "postgresql"


def read_only(view: View) -> View:
    """Mark ``view`` as one that only reads: its statements run in autocommit."""

    @wraps(view)
    def reading(*args, **kwargs):
        session = db.session()
        # Not when a hook has read already (its transaction stays), nor with changes waiting to
        # be flushed (they would be committed at once): neither happens to a fresh request.
        if (not current_app.extensions[EXTENSION] or session.in_transaction()
                or session.new or session.dirty or session.deleted):
            return view(*args, **kwargs)
        session.connection(execution_options=_AUTOCOMMIT)
        try:
            return view(*args, **kwargs)
        finally:
            # The connection goes back to the pool, which restores transactions on it, before
            # anything else can use this session (a test's app context spans many requests).
            session.rollback()

    READ_ONLY_VIEWS.add(f"{view.__module__}.{view.__qualname__}")
    return reading  # type: ignore[return-value]
