"""Guards for the staff "to pack" list's own indexes (migrations 0022 and 0023,
docs/performance.md): SQLite finds, tests, counts and sorts the orders waiting to be packed from
the covering index ``ix_shop_order_to_pack_sqlite`` alone, reading an order's row only for the
page's 50; PostgreSQL finds them in the partial index ``ix_shop_order_to_pack_pg``, whose
statuses must stay ``DISPATCHABLE`` for the planner to use it at all."""

import importlib.util
import pathlib
from datetime import date

import pytest
from sqlalchemy import event

from shop.orders import desk
from shop.orders.status import DISPATCHABLE
from shop.timeutil import utcnow
from tests.conftest import make_order

MIGRATION_0023 = pathlib.Path(__file__).parents[2] / "migrations/versions/0023_to_pack_partial_index_postgresql.py"


def _list_statement(db, **filters):
    """The one statement of the "to pack" page (its count included) and the orders it listed."""
    statements = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        found = desk.search_orders(desk.OrderFilters(status=desk.TO_PACK, **filters),
                                   page=1, per_page=50, now=utcnow(), overdue_days=3)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    [statement] = statements  # the page and its count in one statement
    return statement, found


def test_sqlite_sorts_the_orders_to_pack_from_the_covering_index(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    order = make_order()
    (statement, parameters), found = _list_statement(db, date_from=date(2020, 1, 1))
    assert [listed.reference for listed in found.orders] == [order.reference] and found.total == 1
    plan = [row[-1] for row in db.session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + statement, parameters)]
    assert any("USING COVERING INDEX ix_shop_order_to_pack_sqlite" in step for step in plan), plan


def test_the_postgresql_index_holds_the_dispatchable_statuses():
    spec = importlib.util.spec_from_file_location("migration_0023", MIGRATION_0023)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert set(migration.DISPATCHABLE) == set(DISPATCHABLE)
    assert f"status IN ({', '.join(repr(status) for status in DISPATCHABLE)})" in migration.WHERE


@pytest.mark.parametrize("filters", [{}, {"date_from": date(2020, 1, 1)}], ids=["all", "since a date"])
def test_postgresql_finds_the_orders_to_pack_in_the_partial_index(db, filters):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan")
    order = make_order()
    (statement, parameters), found = _list_statement(db, **filters)
    assert [listed.reference for listed in found.orders] == [order.reference] and found.total == 1
    # The statuses are in the statement's text, not bound: once psycopg prepares it, PostgreSQL
    # may plan it once for any parameters (a generic plan), and such a plan can use a partial
    # index only if the statement itself shows that its statuses are the index's.
    assert f"status IN ({', '.join(repr(status) for status in DISPATCHABLE)})" in statement, statement
    connection = db.session.connection()
    # A handful of test rows: a sequential scan would be cheaper still, so the planner is
    # told not to take one; with it ruled out, the index must match the list's statement.
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "using ix_shop_order_to_pack_pg on shop_order" in plan, plan
