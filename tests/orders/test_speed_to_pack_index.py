"""Guard for the staff "to pack" list on SQLite (migration 0022, docs/performance.md): it finds,
tests, counts and sorts the orders waiting to be packed from the covering index
``ix_shop_order_to_pack_sqlite`` alone, reading an order's row only for the
page's 50."""

from datetime import date

import pytest
from sqlalchemy import event

from shop.orders import desk
from shop.timeutil import utcnow
from tests.conftest import make_order


def test_sqlite_sorts_the_orders_to_pack_from_the_covering_index(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan (PostgreSQL reads the rows of the orders it finds)")
    order = make_order()
    statements = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        found = desk.search_orders(desk.OrderFilters(status=desk.TO_PACK, date_from=date(2020, 1, 1)),
                                   page=1, per_page=50, now=utcnow(), overdue_days=3)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert [listed.reference for listed in found.orders] == [order.reference] and found.total == 1
    [(statement, parameters)] = statements  # the page and its count in one statement
    plan = [row[-1] for row in db.session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + statement, parameters)]
    assert any("USING COVERING INDEX ix_shop_order_to_pack_sqlite" in step for step in plan), plan
