"""PostgreSQL keeps the plans of the statements every staff page runs (prepared statements).

PostgreSQL parses and plans a statement each time it is sent, unless the connection prepared it.
A plan made once for any parameters (a generic plan) costs nothing to reuse: the "to pack" list's
statement took 0.92 ms of server CPU unprepared and 0.40 ms prepared, the sign-in lookup 0.20 and
0.04 ms. psycopg prepares a statement after five executions on a connection, but forgets every
prepared statement at a ROLLBACK, and each request's transaction ends in one (the session closes):
in a transaction, nothing was ever prepared. This module does two things, on psycopg only:

- **Chosen statements only.** A statement is prepared if it carries the execution option
  ``PREPARE`` (at its first execution on a connection); no other statement is. A generic plan is
  right only for a statement whose best plan does not depend on the values bound: the staff
  order search's count, prepared, chose one that read the whole table (270 ms against 1.7 ms).
  Mark only a statement whose plan was checked with ``plan_cache_mode = force_generic_plan``.
- **A transaction that only read ends with COMMIT.** For it COMMIT and ROLLBACK are the same
  (nothing to keep or undo; its locks go either way), and COMMIT keeps the prepared statements.

Invariant: a transaction is committed here instead of rolled back only if every statement it sent
through SQLAlchemy was a ``SELECT`` that locks no row (anything else, a savepoint included, marks
it as writing) and none failed. A ``SELECT`` of a function with effects (``set_config`` for the
session, ``pg_notify``, one that writes) would be committed too: the shop sends none, and must not
without marking it as a write here. Guarded by tests/test_prepared.py (writes still roll back,
ORM and Core; the chosen statements are prepared once and reused across requests; a search is
never prepared) and, in every PostgreSQL test, by ``verify``: PostgreSQL is asked before each
such COMMIT whether the transaction wrote anything (``txid_current_if_assigned()``), and a test
fails if it did.
"""

import re
import traceback
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_OPTION = "shop_prepare"
# The execution option that asks for a statement to be prepared: ``.execution_options(**PREPARE)``.
PREPARE = {_OPTION: True}
_WROTE = "shop_transaction_wrote"  # in the pooled connection's info: this transaction did not only read

# A row lock writes too (PostgreSQL marks the row and gives the transaction an id): treated as a
# write, so that "wrote nothing" stays exactly what PostgreSQL says.
_LOCKS_ROWS = re.compile(r"\bFOR (?:NO KEY )?(?:UPDATE|SHARE|KEY SHARE)\b")

verify = False  # the tests set it: ask PostgreSQL before each COMMIT that it wrote nothing
offences: list[str] = []  # where a transaction that wrote was about to be committed (verify)


class WroteInReadOnlyTransaction(AssertionError):
    pass


def install(engine: Engine) -> None:
    """Prepare chosen statements and end read-only transactions with COMMIT, on psycopg."""
    if engine.dialect.driver != "psycopg":
        return
    event.listen(engine, "connect", _connected)
    event.listen(engine, "begin", _began)
    event.listen(engine, "before_cursor_execute", _before_execute)
    event.listen(engine, "rollback", _before_rollback)


def _connected(dbapi_connection, _record) -> None:
    dbapi_connection.prepare_threshold = None  # until a marked statement: not even the pool's ping


def _began(conn: Connection) -> None:
    conn.info[_WROTE] = False


def _before_execute(conn, cursor, statement: str, parameters, context, executemany) -> None:
    # 0: prepare at once; None: never (psycopg's own count of five would prepare any statement).
    cursor.connection.prepare_threshold = (
        0 if context is not None and context.execution_options.get(_OPTION) else None
    )
    if not statement.startswith("SELECT") or _LOCKS_ROWS.search(statement):
        conn.info[_WROTE] = True


def _before_rollback(conn: Connection) -> None:
    """Commit instead, when the transaction only read: the rollback that follows finds no
    transaction and sends nothing, so psycopg keeps its prepared statements."""
    if conn.invalidated or conn.info.get(_WROTE, True):
        return
    from psycopg.pq import TransactionStatus

    dbapi_connection: Any = conn.connection.dbapi_connection
    if dbapi_connection.info.transaction_status != TransactionStatus.INTRANS:
        return  # idle, or a statement failed: a real ROLLBACK
    try:
        if verify:
            xid = dbapi_connection.execute("SELECT txid_current_if_assigned()", prepare=False).fetchone()[0]
            if xid is not None:
                offences.append("".join(traceback.format_stack(limit=14)[:-1]))
                raise WroteInReadOnlyTransaction(f"transaction {xid} wrote, yet sent SQLAlchemy only SELECT statements")
        dbapi_connection.commit()
    except dbapi_connection.Error:
        # The connection failed (a restart, a timeout): the server has ended the transaction;
        # the ROLLBACK that follows meets the same error, which SQLAlchemy knows how to handle.
        return
