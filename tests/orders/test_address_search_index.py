"""Guard for the desk's search by part of a postcode, town or street on PostgreSQL (migration
0017): answered from trigram indexes, like the rest of the order search (0007)."""

import pytest
from sqlalchemy import text

from shop.orders.desk import OrderFilters, filtered_orders
from shop.orders.models import Order
from tests.conftest import make_order


def test_postgresql_answers_address_searches_from_trigram_indexes(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's trigram indexes (SQLite reads every order)")
    order = make_order(postcode="LS1 4AP")
    statement = filtered_orders(OrderFilters(status="all", text="ls1 4")).with_only_columns(Order.id)
    compiled = statement.compile(db.engine)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    db.session.execute(text("SET LOCAL enable_indexscan = off"))
    plan = "\n".join(db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())
    for index in ("postcode_compact", "ship_city", "ship_line1", "ship_line2"):
        assert f"ix_shop_order_{index}_trgm" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert db.session.scalars(statement).all() == [order.id]
