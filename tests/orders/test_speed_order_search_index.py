"""Guard for the staff desk's order search on PostgreSQL (migration 0007, docs/performance.md):
its text search is answered from the trigram and postcode indexes, not by reading every order."""

import pytest
from sqlalchemy import text

from shop.orders.desk import OrderFilters, filtered_orders
from shop.orders.models import Order
from tests.conftest import make_order


def test_postgresql_answers_the_order_search_from_its_indexes(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's trigram indexes (SQLite reads every order)")
    order = make_order()
    # Every status, so that no other index can narrow the rows first; with plain and index scans
    # off, a bitmap of the search's own indexes is the only way left that is not a full read.
    statement = filtered_orders(OrderFilters(status="all", text=order.customer_name)).with_only_columns(Order.id)
    compiled = statement.compile(db.engine)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    db.session.execute(text("SET LOCAL enable_indexscan = off"))
    plan = "\n".join(db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())
    for index in ("reference", "customer_email", "customer_name", "ship_name", "postcode_compact"):
        assert f"ix_shop_order_{index}_trgm" in plan, plan
    assert db.session.scalars(statement).all() == [order.id]
