"""In-process measurements with the Flask test client against the same database the server uses:
SQL statements per request (a ``before_cursor_execute`` listener), and the statements themselves
for EXPLAIN."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event

from bench.load import Request
from bench.settings import SECRET_KEY, WEBHOOK_SECRET


def make_app(database_url: str):
    from shop import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": SECRET_KEY,  # the server's, so its cookies and CSRF tokens are valid here
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    })


@dataclass
class Counted:
    status: int
    statements: list[tuple[str, object]]

    @property
    def count(self) -> int:
        return len(self.statements)


class QueryCounter:
    """Replays a load-generator request in-process, with its cookie and body, and counts SQL."""

    def __init__(self, database_url: str):
        from shop.extensions import db

        self.app = make_app(database_url)
        with self.app.app_context():
            self.engine = db.engine
        self._statements: list[tuple[str, object]] | None = None
        event.listen(self.engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self._statements is not None:
            self._statements.append((statement, parameters))

    def _send(self, request: Request):
        client = self.app.test_client()
        headers = dict(request.all_headers())
        cookie = headers.pop("Cookie", None)
        if cookie:
            for part in cookie.split("; "):
                name, _, value = part.partition("=")
                client.set_cookie(name, value)
        return client.open(request.sample_path(), method=request.method, data=request.body, headers=headers)

    def count(self, request: Request) -> Counted:
        """The second of two identical requests (the first warms caches and the pool); with
        ``varied_case``, the second of two spellings of the same search."""
        self._send(request)
        self._statements = []
        try:
            response = self._send(request)
        finally:
            statements, self._statements = self._statements, None
        return Counted(response.status_code, statements)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        self.engine.dispose()


def explain(database_url: str, statement: str, parameters) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite, of one statement as
    the shop sent it (same SQL, same parameters)."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT 1")  # a warm connection, like the pool's
                rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
                return "\n".join(row[0] for row in rows)
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return "\n".join(f"{'  ' * _depth(rows, row)}{row[-1]}" for row in rows)
    finally:
        engine.dispose()


def _depth(rows, row) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth += 1
        parent = parents[parent]
    return depth
