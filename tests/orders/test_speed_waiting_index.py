"""Guard for the staff order list's "awaiting stock" column on PostgreSQL: it reads the partial
index of waiting lines (ix_order_line_awaiting, migration 0016), which PostgreSQL uses only when
the query says ``awaiting_stock`` or ``awaiting_stock = true``, not ``awaiting_stock IS true``
(that form read all 170,000 lines of the benchmark's data, 37 ms of every list page)."""

import pytest
from sqlalchemy import select, text

from shop.orders.desk import WAITING_LINE
from shop.orders.models import Order
from tests.conftest import make_order


def test_the_waiting_column_is_answered_from_the_partial_index(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan (SQLite searches each order's lines by order_id)")
    order = make_order()
    statement = select(Order.id, WAITING_LINE.label("awaiting_stock"))
    compiled = statement.compile(db.engine)
    assert " IS true" not in str(compiled)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())
    assert "ix_order_line_awaiting" in plan, plan
    assert "Seq Scan on order_line" not in plan, plan
    assert db.session.execute(statement).all() == [(order.id, False)]
